//! Protocol profiles. One implementation per protocol; the profile selects variants.

use serde::Serialize;

/// Which protocol variants a run uses: SCI-exact SiRNN, or the cheapest correct variants.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum Profile {
    /// SiRNN exactly as SCI runs it: SCI's padding rule, duplicated openings, both-message
    /// MUX in matmul, div_pow2 rescaling. Byte-exact with SCI.
    Sirnn,
    /// PrivQuant and beyond: the cheapest correct variants.
    PrivQuant,
}

impl Profile {
    /// The profile's command-line / report name (`sirnn`, `privquant`); [`str::parse`] accepts
    /// it back.
    pub fn name(self) -> &'static str {
        match self {
            Profile::Sirnn => "sirnn",
            Profile::PrivQuant => "privquant",
        }
    }
    /// Whether OT batches use SCI's padding rule and payload packing (`docs/sci-protocols.md`
    /// §OT padding rule, §Payload packing).
    pub fn sci_padding(self) -> bool {
        matches!(self, Profile::Sirnn)
    }
}

impl std::str::FromStr for Profile {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "sirnn" => Ok(Profile::Sirnn),
            "privquant" => Ok(Profile::PrivQuant),
            _ => Err(format!(
                "unknown profile '{s}' (accepted: sirnn, privquant)"
            )),
        }
    }
}
