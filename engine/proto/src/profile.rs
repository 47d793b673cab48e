//! Protocol profiles. One implementation per protocol; the profile selects variants.

use pq_ot::{OtKind, OtOpts};
use serde::Serialize;

/// Which protocol variants a run uses: SCI-exact SiRNN, or the cheapest correct variants;
/// and which correlated-OT source ([`OtKind`]) the IKNP-style OT calls draw from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Profile {
    sirnn: bool,
    /// The COT source (IKNP unless a configuration chooses SoftSpoken or Ferret).
    pub ot: OtKind,
}

#[allow(non_upper_case_globals)]
impl Profile {
    /// SiRNN exactly as SCI runs it: SCI's padding rule, duplicated openings, both-message
    /// MUX in matmul, div_pow2 rescaling, IKNP. Byte-exact with SCI.
    pub const Sirnn: Profile = Profile {
        sirnn: true,
        ot: OtKind::Iknp,
    };
    /// PrivQuant and beyond: the cheapest correct variants (on IKNP; see
    /// [`with_ot`](Self::with_ot)).
    pub const PrivQuant: Profile = Profile {
        sirnn: false,
        ot: OtKind::Iknp,
    };
}

impl Profile {
    /// The same profile drawing its COTs from `ot`.
    #[must_use]
    pub fn with_ot(self, ot: OtKind) -> Profile {
        Profile { ot, ..self }
    }
    /// The SCI-exact SiRNN profile?
    pub fn is_sirnn(self) -> bool {
        self.sirnn
    }
    /// The profile's command-line / report name (`sirnn`, `privquant`); [`str::parse`] accepts
    /// it back.
    pub fn name(self) -> &'static str {
        if self.sirnn { "sirnn" } else { "privquant" }
    }
    /// Whether OT batches use SCI's padding rule and payload packing (`docs/sci-protocols.md`
    /// §OT padding rule, §Payload packing).
    pub fn sci_padding(self) -> bool {
        self.sirnn
    }
    /// The OT-layer options of the profile.
    pub fn ot_opts(self) -> OtOpts {
        OtOpts {
            sci_padding: self.sci_padding(),
            source: self.ot,
        }
    }
}

impl Serialize for Profile {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
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
