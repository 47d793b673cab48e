//! Model IR, built-in networks, passes and executors.
