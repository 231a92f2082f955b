//! The unified social credit code (统一社会信用代码, GB 32100-2015).
//!
//! Every source unit (货运源头单位) is identified by the 18-character code on its business
//! licence, and every rectification notice (整改通知书) names its party by it. A mistyped code
//! would attach a weighing record or a notice to the wrong enterprise, so the code is a type,
//! not a `String`: [`Uscc`] can only hold a code whose check character is right.
//!
//! Input is typed by people on phones and copied from scanned documents, so parsing first
//! normalises (trim, drop inner whitespace, full-width → ASCII, upper case) and then validates
//! the alphabet, the length and the check character of GB 32100-2015.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The 31 characters of the code alphabet, in value order (GB 32100-2015 Table 2): a
/// character's value is its position, 0–30. The letters I, O, Z, S and V are not used.
pub const ALPHABET: &str = "0123456789ABCDEFGHJKLMNPQRTUWXY";

/// Registration authority codes, the first character (GB 32100-2015 Table 1): 1 机构编制,
/// 2 外交, 3 司法行政, 4 文化, 5 民政, 6 旅游, 7 宗教, 8 工会, 9 工商 (market regulation),
/// A 中央军委改革和编制办公室, N 农业, Y 其他.
pub const REGISTRATION_AUTHORITIES: &str = "123456789ANY";

/// Number of characters in a code (GB 32100-2015 §4).
pub const LEN: usize = 18;

/// Weights of positions 1–17 for the check character: w_i = 3^(i−1) mod 31
/// (GB 32100-2015 §5).
const WEIGHTS: [u32; LEN - 1] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];

/// Letters that look like code characters but are excluded from the alphabet.
const EXCLUDED_LETTERS: &str = "IOZSV";

/// A validated unified social credit code (统一社会信用代码, GB 32100-2015).
///
/// Shape: 18 characters from [`ALPHABET`], stored normalised (ASCII, upper case):
///
/// | positions | part | accessor |
/// |---|---|---|
/// | 1 | registration authority code (登记管理部门码) | [`Uscc::registration_authority`] |
/// | 2 | entity category code (机构类别码) | [`Uscc::entity_category`] |
/// | 3–8 | administrative division code (登记管理机关行政区划码, GB/T 2260) | [`Uscc::admin_division`] |
/// | 9–17 | organisation code (主体标识码, GB 11714) | [`Uscc::organization_code`] |
/// | 18 | check character (校验码) | [`Uscc::check_character`] |
///
/// Parse with [`FromStr`], [`TryFrom<&str>`] or [`TryFrom<String>`]; [`Display`](fmt::Display)
/// and [`Uscc::as_str`] give the normalised code. Serde reads and writes the code as a string;
/// an invalid string is a deserialisation error.
///
/// ```
/// use zhichao_core::uscc::Uscc;
///
/// let code: Uscc = " 9144 0300 7152 6726 xg ".parse()?;
/// assert_eq!(code.as_str(), "9144030071526726XG");
/// assert_eq!(code.registration_authority(), '9');
/// assert_eq!(code.admin_division(), "440300");
/// # Ok::<(), zhichao_core::uscc::UsccError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, Ord, PartialOrd, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Uscc(String);

/// Why a string is not a unified social credit code (GB 32100-2015).
///
/// Positions are 1-based and count characters of the normalised input (after trimming,
/// removing inner whitespace and mapping full-width characters to ASCII).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UsccError {
    /// The normalised input does not have the expected number of characters (18 for a code,
    /// 17 for the body given to [`check_char`]).
    #[error("wrong length: expected {expected} characters, got {got}")]
    WrongLength {
        /// Characters expected.
        expected: usize,
        /// Characters found.
        got: usize,
    },
    /// A character outside [`ALPHABET`].
    #[error("invalid character {ch:?} at position {position}{}", excluded_hint(.ch))]
    InvalidChar {
        /// The offending character (after normalisation).
        ch: char,
        /// 1-based position of the character.
        position: usize,
    },
    /// The first character is not a registration authority code of GB 32100-2015 Table 1.
    #[error("unknown registration authority code {ch:?} (GB 32100-2015 uses 1-9, A, N and Y)")]
    UnknownAuthority {
        /// The first character.
        ch: char,
    },
    /// The 18th character is not the check character computed from the first 17.
    #[error("check character mismatch: expected {expected:?}, found {found:?}")]
    CheckMismatch {
        /// The check character computed per GB 32100-2015 §5.
        expected: char,
        /// The 18th character of the input.
        found: char,
    },
}

fn excluded_hint(ch: &char) -> &'static str {
    if EXCLUDED_LETTERS.contains(*ch) {
        " (the letters I, O, Z, S and V are not used)"
    } else {
        ""
    }
}

/// Normalises user input: drops all whitespace (leading, trailing and inner, including the
/// full-width space), maps full-width ASCII variants (U+FF01–U+FF5E) to ASCII and upper-cases
/// ASCII letters. Other characters are kept, to be reported by validation.
fn normalise(input: &str) -> String {
    input
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| {
            let c = match u32::from(c) {
                cp @ 0xFF01..=0xFF5E => char::from_u32(cp - 0xFEE0).unwrap_or(c),
                _ => c,
            };
            c.to_ascii_uppercase()
        })
        .collect()
}

/// Value (0–30) of a character of [`ALPHABET`], or `None`.
fn value_of(ch: char) -> Option<u32> {
    ALPHABET
        .chars()
        .position(|a| a == ch)
        .and_then(|p| u32::try_from(p).ok())
}

/// Values of the characters of `s`, which must be exactly `expected` characters long.
fn values(s: &str, expected: usize) -> Result<Vec<u32>, UsccError> {
    let got = s.chars().count();
    if got != expected {
        return Err(UsccError::WrongLength { expected, got });
    }
    s.chars()
        .enumerate()
        .map(|(i, ch)| {
            value_of(ch).ok_or(UsccError::InvalidChar {
                ch,
                position: i + 1,
            })
        })
        .collect()
}

/// Check character for 17 values (GB 32100-2015 §5):
/// C18 = 31 − (Σ C_i × W_i mod 31), with 31 written as 0.
fn check_of(body: &[u32]) -> char {
    let sum: u32 = body.iter().zip(WEIGHTS).map(|(v, w)| v * w).sum();
    let check = (31 - sum % 31) % 31;
    // `check` is in 0..31, so the lookup always succeeds.
    ALPHABET.chars().nth(check as usize).unwrap_or('0')
}

/// Computes the check character (18th character) for the first 17 characters of a code,
/// per GB 32100-2015 §5 (weights 3^(i−1) mod 31, modulus 31).
///
/// `first17` is normalised like a full code (whitespace dropped, full-width → ASCII, upper
/// case). Useful to generate test data and to tell a user which character was expected.
///
/// # Errors
///
/// [`UsccError::WrongLength`] unless the normalised input has 17 characters;
/// [`UsccError::InvalidChar`] for a character outside [`ALPHABET`].
///
/// ```
/// assert_eq!(zhichao_core::uscc::check_char("9144030071526726X"), Ok('G'));
/// ```
pub fn check_char(first17: &str) -> Result<char, UsccError> {
    let normalised = normalise(first17);
    let body = values(&normalised, LEN - 1)?;
    Ok(check_of(&body))
}

impl Uscc {
    /// Parses and validates a code (see the [type docs](Uscc)); same as [`FromStr`].
    ///
    /// # Errors
    ///
    /// [`UsccError::WrongLength`], [`UsccError::InvalidChar`], [`UsccError::CheckMismatch`] or
    /// [`UsccError::UnknownAuthority`], checked in that order.
    pub fn parse(input: &str) -> Result<Self, UsccError> {
        Self::from_normalised(normalise(input))
    }

    fn from_normalised(code: String) -> Result<Self, UsccError> {
        let values = values(&code, LEN)?;
        let expected = check_of(values.get(..LEN - 1).unwrap_or_default());
        let found = code.chars().last().unwrap_or(' ');
        if found != expected {
            return Err(UsccError::CheckMismatch { expected, found });
        }
        let authority = code.chars().next().unwrap_or('0');
        if !REGISTRATION_AUTHORITIES.contains(authority) {
            return Err(UsccError::UnknownAuthority { ch: authority });
        }
        Ok(Self(code))
    }

    /// The normalised code: 18 ASCII characters from [`ALPHABET`].
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Characters `range` of the code. The code is 18 ASCII characters by construction, so
    /// the slice always exists; the fallback only keeps this free of panics.
    fn part(&self, range: std::ops::Range<usize>) -> &str {
        self.0.get(range).unwrap_or_default()
    }

    fn char_at(&self, index: usize) -> char {
        self.0.chars().nth(index).unwrap_or('0')
    }

    /// Registration authority code (登记管理部门码), position 1 (GB 32100-2015 Table 1):
    /// e.g. `'1'` 机构编制 (public-sector establishment), `'5'` 民政 (civil affairs),
    /// `'9'` 工商 (market regulation — enterprises, the usual case for source units),
    /// `'Y'` other authorities.
    pub fn registration_authority(&self) -> char {
        self.char_at(0)
    }

    /// Entity category code (机构类别码), position 2, whose meaning depends on the
    /// registration authority (GB 32100-2015 Table 1): under `'9'`, `'1'` is an enterprise
    /// (企业), `'2'` an individual business (个体工商户), `'3'` a farmers' cooperative
    /// (农民专业合作社).
    pub fn entity_category(&self) -> char {
        self.char_at(1)
    }

    /// Administrative division code (登记管理机关行政区划码) of the registering office,
    /// positions 3–8: six characters, normally a GB/T 2260 code such as `"140522"`. It is
    /// returned as text and not validated as a division: the check character does not
    /// constrain it to digits, and codes keep the division of their first registration.
    pub fn admin_division(&self) -> &str {
        self.part(2..8)
    }

    /// Organisation code (主体标识码), positions 9–17: nine characters, the GB 11714
    /// organisation code of the entity (its own check digit is not verified here).
    pub fn organization_code(&self) -> &str {
        self.part(8..17)
    }

    /// The check character (校验码), position 18.
    pub fn check_character(&self) -> char {
        self.char_at(LEN - 1)
    }
}

impl FromStr for Uscc {
    type Err = UsccError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<&str> for Uscc {
    type Error = UsccError;

    fn try_from(value: &str) -> Result<Self, Self::Error> {
        Self::parse(value)
    }
}

impl TryFrom<String> for Uscc {
    type Error = UsccError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Uscc> for String {
    fn from(value: Uscc) -> Self {
        value.0
    }
}

impl AsRef<str> for Uscc {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Uscc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Real codes from public registrations, each checked against the algorithm by the tests
    /// below (and independently when they were chosen).
    const REAL: &[(&str, &str)] = &[
        ("9144030071526726XG", "腾讯科技（深圳）有限公司"),
        ("91440300708461136T", "深圳市腾讯计算机系统有限公司"),
        ("914403001922038216", "华为技术有限公司"),
        ("91110000802100433B", "北京百度网讯科技有限公司"),
        ("91440300192317458F", "比亚迪股份有限公司"),
        ("91330100716105852F", "阿里巴巴（中国）网络技术有限公司"),
        ("91100000100003962T", "中国工商银行股份有限公司"),
    ];

    #[test]
    fn weights_are_powers_of_three_mod_31() {
        let mut w = 1;
        for weight in WEIGHTS {
            assert_eq!(weight, w);
            w = w * 3 % 31;
        }
    }

    #[test]
    fn real_codes_validate() {
        for (code, name) in REAL {
            let parsed = Uscc::parse(code);
            assert!(parsed.is_ok(), "{name} {code}: {parsed:?}");
            let body: String = code.chars().take(17).collect();
            assert_eq!(check_char(&body).ok(), code.chars().last(), "{name} {code}");
        }
    }

    #[test]
    fn known_bad_candidate_is_rejected() {
        // A code once recalled for a state-owned group; the algorithm says its check
        // character must be '2', so it is not a real code and is kept only as a negative.
        assert_eq!(
            Uscc::parse("91110000710920313P"),
            Err(UsccError::CheckMismatch {
                expected: '2',
                found: 'P'
            })
        );
    }

    #[test]
    fn accessors_split_the_structure() {
        let code = Uscc::parse("9144030071526726XG").unwrap();
        assert_eq!(code.registration_authority(), '9');
        assert_eq!(code.entity_category(), '1');
        assert_eq!(code.admin_division(), "440300");
        assert_eq!(code.organization_code(), "71526726X");
        assert_eq!(code.check_character(), 'G');
        assert_eq!(code.as_str(), "9144030071526726XG");
        assert_eq!(code.to_string(), "9144030071526726XG");
        assert_eq!(String::from(code), "9144030071526726XG");
    }

    #[test]
    fn all_zeros_and_unknown_authorities_are_refused() {
        // Checksum-valid, but no registration authority 0 or B exists.
        let zeros = format!(
            "00000000000000000{}",
            check_char("00000000000000000").unwrap()
        );
        assert_eq!(
            Uscc::parse(&zeros),
            Err(UsccError::UnknownAuthority { ch: '0' })
        );
        let body = "B1000000MA0K1234X";
        let code = format!("{body}{}", check_char(body).unwrap());
        assert!(matches!(
            Uscc::parse(&code),
            Err(UsccError::UnknownAuthority { ch: 'B' })
        ));
    }

    #[test]
    fn every_single_character_change_fails() {
        for (code, name) in REAL {
            let chars: Vec<char> = code.chars().collect();
            let mut cases = 0;
            for position in 0..LEN {
                for replacement in ALPHABET.chars().filter(|&c| c != chars[position]) {
                    let mut changed = chars.clone();
                    changed[position] = replacement;
                    let changed: String = changed.into_iter().collect();
                    assert!(
                        matches!(Uscc::parse(&changed), Err(UsccError::CheckMismatch { .. })),
                        "{name}: {changed} was accepted"
                    );
                    cases += 1;
                }
            }
            assert_eq!(cases, LEN * 30);
        }
    }

    #[test]
    fn input_is_normalised() {
        let expected = Uscc::parse("9144030071526726XG").unwrap();
        for input in [
            "9144030071526726xg",
            "  9144030071526726XG\n",
            "9144 0300 7152 6726 XG",
            "\u{3000}９１４４０３００７１５２６７２６ｘＧ\u{3000}",
            "9144\u{3000}030071526726Xg",
        ] {
            assert_eq!(Uscc::parse(input), Ok(expected.clone()), "{input:?}");
        }
    }

    #[test]
    fn parse_entry_points_agree() {
        let s = "914403001922038216";
        let a: Uscc = s.parse().unwrap();
        let b = Uscc::try_from(s).unwrap();
        let c = Uscc::try_from(s.to_owned()).unwrap();
        assert_eq!(a, b);
        assert_eq!(b, c);
    }

    #[test]
    fn wrong_lengths() {
        for (input, got) in [
            ("", 0),
            ("   ", 0),
            ("9", 1),
            ("9144030071526726X", 17),
            ("9144030071526726XG0", 19),
            ("9144030071526726XG9144030071526726XG", 36),
        ] {
            assert_eq!(
                Uscc::parse(input),
                Err(UsccError::WrongLength { expected: 18, got }),
                "{input:?}"
            );
        }
        // Length is counted in characters, not bytes.
        assert_eq!(
            Uscc::parse("腾讯"),
            Err(UsccError::WrongLength {
                expected: 18,
                got: 2
            })
        );
    }

    #[test]
    fn invalid_characters() {
        assert_eq!(
            Uscc::parse("9144030071526726IG"),
            Err(UsccError::InvalidChar {
                ch: 'I',
                position: 17
            })
        );
        // Lower-case 'o' is upper-cased before validation.
        assert_eq!(
            Uscc::parse("o144030071526726XG"),
            Err(UsccError::InvalidChar {
                ch: 'O',
                position: 1
            })
        );
        assert_eq!(
            Uscc::parse("91440300-1526726XG"),
            Err(UsccError::InvalidChar {
                ch: '-',
                position: 9
            })
        );
        assert_eq!(
            Uscc::parse("9144030071526726X腾"),
            Err(UsccError::InvalidChar {
                ch: '腾',
                position: 18
            })
        );
        for letter in EXCLUDED_LETTERS.chars() {
            let input = format!("{letter}144030071526726XG");
            let err = Uscc::parse(&input).unwrap_err();
            assert!(
                err.to_string().contains("I, O, Z, S and V are not used"),
                "{err}"
            );
        }
        assert_eq!(
            check_char("91440300715267Z6X"),
            Err(UsccError::InvalidChar {
                ch: 'Z',
                position: 15
            })
        );
    }

    #[test]
    fn error_messages() {
        assert_eq!(
            UsccError::WrongLength {
                expected: 18,
                got: 3
            }
            .to_string(),
            "wrong length: expected 18 characters, got 3"
        );
        assert_eq!(
            UsccError::InvalidChar {
                ch: '-',
                position: 9
            }
            .to_string(),
            "invalid character '-' at position 9"
        );
        assert_eq!(
            UsccError::InvalidChar {
                ch: 'S',
                position: 2
            }
            .to_string(),
            "invalid character 'S' at position 2 (the letters I, O, Z, S and V are not used)"
        );
        assert_eq!(
            UsccError::CheckMismatch {
                expected: 'G',
                found: 'H'
            }
            .to_string(),
            "check character mismatch: expected 'G', found 'H'"
        );
    }

    #[test]
    fn check_char_lengths() {
        assert_eq!(
            check_char("9144030071526726XG"),
            Err(UsccError::WrongLength {
                expected: 17,
                got: 18
            })
        );
        assert_eq!(check_char("9144 0300 7152 6726 x"), Ok('G'));
    }

    #[test]
    fn serde_as_string() {
        let code = Uscc::parse("91440300192317458F").unwrap();
        let json = serde_json::to_string(&code).unwrap();
        assert_eq!(json, "\"91440300192317458F\"");
        let back: Uscc = serde_json::from_str(&json).unwrap();
        assert_eq!(back, code);
        // Deserialisation normalises like parsing does.
        let back: Uscc = serde_json::from_str("\"91440300192317458f\"").unwrap();
        assert_eq!(back, code);
        let err = serde_json::from_str::<Uscc>("\"91440300192317458G\"").unwrap_err();
        assert!(
            err.to_string().contains("check character mismatch"),
            "{err}"
        );
        assert!(serde_json::from_str::<Uscc>("18").is_err());
    }

    fn body17() -> impl Strategy<Value = String> {
        (
            proptest::sample::select(REGISTRATION_AUTHORITIES.as_bytes()),
            proptest::collection::vec(proptest::sample::select(ALPHABET.as_bytes()), 16),
        )
            .prop_map(|(first, rest)| std::iter::once(first).chain(rest).map(char::from).collect())
    }

    proptest! {
        #[test]
        fn computed_check_char_validates(body in body17()) {
            let check = check_char(&body).unwrap();
            let code = format!("{body}{check}");
            let parsed = Uscc::parse(&code).unwrap();
            prop_assert_eq!(parsed.as_str(), code.as_str());
            let reparsed: Uscc = parsed.to_string().parse().unwrap();
            prop_assert_eq!(&reparsed, &parsed);
            let json = serde_json::to_string(&parsed).unwrap();
            prop_assert_eq!(serde_json::from_str::<Uscc>(&json).unwrap(), parsed);
        }

        #[test]
        fn exactly_one_check_char_fits(body in body17()) {
            let accepted = ALPHABET
                .chars()
                .filter(|c| Uscc::parse(&format!("{body}{c}")).is_ok())
                .count();
            prop_assert_eq!(accepted, 1);
        }

        #[test]
        fn arbitrary_strings_never_panic(s in any::<String>()) {
            let _ = Uscc::parse(&s);
            let _ = check_char(&s);
        }

        #[test]
        fn near_codes_never_panic(s in "[0-9A-Za-z \u{3000}\u{ff10}-\u{ff5a}腾讯-]{15,21}") {
            if let Ok(code) = Uscc::parse(&s) {
                prop_assert_eq!(code.as_str().len(), LEN);
                let _ = (code.admin_division(), code.organization_code());
            }
        }
    }
}
