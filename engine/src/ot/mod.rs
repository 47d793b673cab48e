//! OT engine: base OT, IKNP, KKOT, lanes.
