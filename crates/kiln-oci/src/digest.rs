//! Content digests (`sha256:<hex>`, `sha512:<hex>`): parsing, computing and verifying.

use std::fmt;
use std::str::FromStr;

use sha2::{Digest as _, Sha256, Sha512};

use crate::error::{OciError, Result};

/// A digest algorithm registered by the OCI image spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algorithm {
    Sha256,
    Sha512,
}

impl Algorithm {
    /// The algorithm's name as written in a digest string.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha512 => "sha512",
        }
    }

    fn hex_len(self) -> usize {
        match self {
            Algorithm::Sha256 => 64,
            Algorithm::Sha512 => 128,
        }
    }
}

/// A validated content digest. The hex part is always lowercase and of the right length.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    algorithm: Algorithm,
    hex: String,
}

impl Digest {
    /// The SHA-256 digest of `data`.
    pub fn sha256(data: &[u8]) -> Digest {
        Digest {
            algorithm: Algorithm::Sha256,
            hex: hex::encode(Sha256::digest(data)),
        }
    }

    /// The digest of `data` with `algorithm`.
    pub fn compute(algorithm: Algorithm, data: &[u8]) -> Digest {
        match algorithm {
            Algorithm::Sha256 => Digest::sha256(data),
            Algorithm::Sha512 => Digest {
                algorithm,
                hex: hex::encode(Sha512::digest(data)),
            },
        }
    }

    /// A digest from an algorithm and raw hash bytes.
    pub fn from_raw(algorithm: Algorithm, raw: &[u8]) -> Result<Digest> {
        let hex = hex::encode(raw);
        Digest::parse(&format!("{}:{}", algorithm.as_str(), hex))
    }

    /// Parses `algorithm:hex`, refusing unknown algorithms, uppercase and wrong lengths.
    pub fn parse(input: &str) -> Result<Digest> {
        let bad = |reason: &str| OciError::InvalidDigest {
            input: input.chars().take(200).collect(),
            reason: reason.to_string(),
        };
        let (alg, hex) = input
            .split_once(':')
            .ok_or_else(|| bad("expected <algorithm>:<hex>"))?;
        let algorithm = match alg {
            "sha256" => Algorithm::Sha256,
            "sha512" => Algorithm::Sha512,
            _ => return Err(bad("unsupported algorithm (sha256 or sha512)")),
        };
        if hex.len() != algorithm.hex_len() {
            return Err(bad(&format!(
                "{} hex characters expected, found {}",
                algorithm.hex_len(),
                hex.len()
            )));
        }
        if !hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(bad("the hex part must be lowercase hexadecimal"));
        }
        Ok(Digest {
            algorithm,
            hex: hex.to_string(),
        })
    }

    /// The algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The lowercase hex part.
    pub fn hex(&self) -> &str {
        &self.hex
    }

    /// The raw hash bytes.
    pub fn raw(&self) -> Vec<u8> {
        hex::decode(&self.hex).expect("validated at construction")
    }

    /// The tag form cosign and the referrers tag schema use: `sha256-<hex>`.
    pub fn tag_form(&self) -> String {
        format!("{}-{}", self.algorithm.as_str(), self.hex)
    }

    /// Checks that `data` has this digest; `what` names the content in the error.
    pub fn verify(&self, data: &[u8], what: &str) -> Result<()> {
        let actual = Digest::compute(self.algorithm, data);
        if &actual != self {
            return Err(OciError::DigestMismatch {
                what: what.to_string(),
                expected: self.to_string(),
                actual: actual.to_string(),
            });
        }
        Ok(())
    }

    /// A streaming hasher for this digest's algorithm.
    pub fn hasher(&self) -> Hasher {
        Hasher::new(self.algorithm)
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algorithm.as_str(), self.hex)
    }
}

impl FromStr for Digest {
    type Err = OciError;
    fn from_str(s: &str) -> Result<Self> {
        Digest::parse(s)
    }
}

impl serde::Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Digest::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// An incremental hasher that also counts bytes.
pub enum Hasher {
    Sha256(Sha256, u64),
    Sha512(Sha512, u64),
}

impl Hasher {
    /// A new hasher for `algorithm`.
    pub fn new(algorithm: Algorithm) -> Hasher {
        match algorithm {
            Algorithm::Sha256 => Hasher::Sha256(Sha256::new(), 0),
            Algorithm::Sha512 => Hasher::Sha512(Sha512::new(), 0),
        }
    }

    /// Feeds `data`.
    pub fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Sha256(h, n) => {
                h.update(data);
                *n += data.len() as u64;
            }
            Hasher::Sha512(h, n) => {
                h.update(data);
                *n += data.len() as u64;
            }
        }
    }

    /// Bytes fed so far.
    pub fn len(&self) -> u64 {
        match self {
            Hasher::Sha256(_, n) | Hasher::Sha512(_, n) => *n,
        }
    }

    /// Whether nothing was fed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The digest of everything fed.
    pub fn finish(self) -> Digest {
        match self {
            Hasher::Sha256(h, _) => Digest {
                algorithm: Algorithm::Sha256,
                hex: hex::encode(h.finalize()),
            },
            Hasher::Sha512(h, _) => Digest {
                algorithm: Algorithm::Sha512,
                hex: hex::encode(h.finalize()),
            },
        }
    }
}

impl std::io::Write for Hasher {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_empty_matches_known_value() {
        assert_eq!(
            Digest::sha256(b"").to_string(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn parse_rejects_bad_inputs() {
        for bad in [
            "sha256",
            "md5:d41d8cd98f00b204e9800998ecf8427e",
            "sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
            "sha256:abc",
            "sha256:zz0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        ] {
            assert!(Digest::parse(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn verify_detects_mismatch_and_tag_form() {
        let d = Digest::sha256(b"hello");
        assert!(d.verify(b"hello", "blob").is_ok());
        let err = d.verify(b"hellO", "blob x").unwrap_err().to_string();
        assert!(err.contains("blob x"), "{err}");
        assert!(d.tag_form().starts_with("sha256-"));
        let mut h = d.hasher();
        h.update(b"hel");
        h.update(b"lo");
        assert_eq!(h.len(), 5);
        assert_eq!(h.finish(), d);
    }
}
