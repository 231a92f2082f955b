//! Licence plates (机动车号牌, GA 36-2018) and plate colours (车牌颜色, JT/T 697.7-2014).
//!
//! A plate is the key by which a roadside patrol finds a truck's history: the weighing records
//! (称重记录) at the source unit, earlier over-limit (超限) cases, the rectification notices
//! (整改通知书) of its operator. People type plates in many ways — `晋E·12345`, `晋e12345`,
//! `晋 E 12345`, full-width `晋Ｅ１２３４５` from a Chinese input method — and a lookup that
//! compares raw strings misses the history the patrol is looking for. So a plate is a type:
//! [`Plate::parse`] normalises what people type (separators, spaces, full-width characters,
//! case) and validates it against the shapes of GA 36-2018, and [`Plate`] displays in one
//! canonical form (`晋E12345`). Normalise on input and keep the text as the person typed it
//! elsewhere (on the record that quotes it): the canonical form is for matching, the original
//! is evidence.
//!
//! A plate's colour is not part of its number but tells vehicles apart that share one (a blue
//! and a yellow `晋E12345` are different vehicles); [`PlateColour`] carries the JT/T 697.7-2014
//! codes that the transport interfaces exchange.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The 31 province-level abbreviations (省、自治区、直辖市简称) that start a plate.
const PROVINCES: [char; 31] = [
    '京', '津', '沪', '渝', '冀', '豫', '云', '辽', '黑', '湘', '皖', '鲁', '新', '苏', '浙', '赣',
    '鄂', '桂', '甘', '晋', '蒙', '陕', '吉', '闽', '贵', '粤', '青', '藏', '川', '宁', '琼',
];

/// Energy letters of new-energy plates (GA 36-2018): D A B C E for pure electric, F G H J K for
/// other new-energy vehicles.
const ENERGY_LETTERS: [char; 10] = ['D', 'A', 'B', 'C', 'E', 'F', 'G', 'H', 'J', 'K'];

/// Single-character suffixes that end a plate, with the kind they mark.
const SUFFIXES: [(char, PlateKind); 5] = [
    ('挂', PlateKind::Trailer),
    ('学', PlateKind::DrivingSchool),
    ('警', PlateKind::Police),
    ('港', PlateKind::HongKong),
    ('澳', PlateKind::Macao),
];

/// Characters that separate parts of a plate as people write it; dropped on input.
const SEPARATORS: [char; 14] = [
    '\u{00B7}', // · middle dot
    '\u{30FB}', // ・ katakana middle dot (Chinese input methods)
    '\u{FF65}', // ･ half-width katakana middle dot
    '\u{2022}', // • bullet
    '\u{2027}', // ‧ hyphenation point
    '\u{2219}', // ∙ bullet operator
    '\u{22C5}', // ⋅ dot operator
    '.',        // full stop
    '\u{FF0E}', // ． full-width full stop
    '-',        // hyphen-minus
    '\u{FF0D}', // － full-width hyphen-minus
    '\u{2010}', // ‐ hyphen
    '\u{2013}', // – en dash
    '\u{2014}', // — em dash
];

/// What is wrong with a plate or a plate colour.
///
/// Positions are 1-based character positions in the text as it was typed (spaces and separators
/// included), so a form can point at the offending character.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PlateError {
    /// Nothing but spaces and separators.
    #[error("empty plate")]
    Empty,
    /// The first character is not one of the 31 province abbreviations.
    #[error("unknown province '{found}'")]
    UnknownProvince {
        /// The character found where the province abbreviation belongs.
        found: char,
    },
    /// The province is not followed by an issuing-office letter (e.g. `晋12345`).
    #[error("missing authority letter")]
    MissingAuthority,
    /// The letters I and O are not used on plates (they read as 1 and 0).
    #[error("letter {letter} is not used on plates (position {position})")]
    ForbiddenLetter {
        /// `I` or `O`.
        letter: char,
        /// Where it was typed.
        position: usize,
    },
    /// A character that cannot appear at that place of a plate.
    #[error("invalid character '{found}' at position {position}")]
    InvalidCharacter {
        /// The character (after normalisation: full-width letters and digits become ASCII).
        found: char,
        /// Where it was typed.
        position: usize,
    },
    /// A suffix such as 挂 or 应急 before the end of the plate.
    #[error("suffix {suffix} at position {position} must come at the end of the plate")]
    MisplacedSuffix {
        /// The suffix (挂 学 警 港 澳 应急).
        suffix: &'static str,
        /// Where it was typed.
        position: usize,
    },
    /// A plate without a suffix must have 5 (ordinary) or 6 (new-energy) characters after the
    /// authority letter.
    #[error(
        "wrong length: expects 5 characters after the authority letter \
         (6 on new-energy plates), got {got}"
    )]
    WrongSerialLength {
        /// Characters found after the authority letter.
        got: usize,
    },
    /// A suffixed plate (挂 学 警 港 澳 应急) with the wrong number of characters before the
    /// suffix.
    #[error(
        "wrong length: {kind} plate expects {expected} characters between the authority \
         letter and {}, got {got}",
        .kind.suffix().unwrap_or("the suffix")
    )]
    WrongLength {
        /// The kind the suffix announces.
        kind: PlateKind,
        /// Characters the kind needs between the authority letter and the suffix.
        expected: usize,
        /// Characters found there.
        got: usize,
    },
    /// An energy letter inside a 6-character serial, neither first nor last (e.g. `晋E1D2345`).
    #[error(
        "new-energy letter '{letter}' must come first (small) or last after five digits \
         (large), found at position {position}"
    )]
    MisplacedEnergyLetter {
        /// The energy letter (one of D A B C E F G H J K).
        letter: char,
        /// Where it was typed.
        position: usize,
    },
    /// A 6-character serial (so a new-energy plate) without an energy letter anywhere.
    #[error(
        "new-energy plate '{serial}' has no energy letter: one of D A B C E F G H J K \
         must come first or last"
    )]
    MissingEnergyLetter {
        /// The 6 characters after the authority letter.
        serial: String,
    },
    /// A letter where a new-energy plate needs a digit.
    #[error("{kind} plate needs a digit at position {position}, got '{found}'")]
    ExpectedDigit {
        /// The kind the position of the energy letter announces.
        kind: PlateKind,
        /// The character found.
        found: char,
        /// Where it was typed.
        position: usize,
    },
    /// 港/澳 plates are issued only by the Guangdong office 粤Z.
    #[error(
        "cross-border plates ending in 港 or 澳 are issued only as 粤Z, got {province}{authority}"
    )]
    CrossBorderOffice {
        /// The province found.
        province: Province,
        /// The authority letter found.
        authority: char,
    },
    /// A number that is not a JT/T 697.7-2014 plate colour code.
    #[error("unknown plate colour code {code}")]
    UnknownColourCode {
        /// The code.
        code: u8,
    },
    /// A name that is not a known plate colour.
    #[error("unknown plate colour '{found}'")]
    UnknownColour {
        /// The text, trimmed.
        found: String,
    },
}

/// A province-level abbreviation (省级简称) that starts a plate: one of
/// 京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼 (GA 36-2018).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Province(char);

impl Province {
    /// The province for an abbreviation, or [`PlateError::UnknownProvince`].
    pub fn new(abbreviation: char) -> Result<Self, PlateError> {
        if PROVINCES.contains(&abbreviation) {
            Ok(Self(abbreviation))
        } else {
            Err(PlateError::UnknownProvince {
                found: abbreviation,
            })
        }
    }

    /// All 31 provinces, in the order 京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼.
    pub fn all() -> impl Iterator<Item = Self> {
        PROVINCES.into_iter().map(Self)
    }

    /// The abbreviation, e.g. `'晋'` for Shanxi.
    pub fn as_char(self) -> char {
        self.0
    }
}

impl TryFrom<char> for Province {
    type Error = PlateError;

    fn try_from(abbreviation: char) -> Result<Self, PlateError> {
        Self::new(abbreviation)
    }
}

impl fmt::Display for Province {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Write::write_char(f, self.0)
    }
}

/// The shape of a plate number (GA 36-2018 《中华人民共和国机动车号牌》, plate types and their
/// numbers). "Serial" is what follows the issuing-office letter, without the suffix; letters
/// never include I or O.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum PlateKind {
    /// 普通号牌 (large 大型 or small 小型 vehicle): 5 letters or digits, e.g. `晋E12345`,
    /// `晋E·A1234`. Blue (small vehicles, light trucks included) or yellow (large vehicles,
    /// heavy goods vehicles among them), so no default colour.
    Ordinary,
    /// 小型新能源汽车号牌: 6 characters — the energy letter (D A B C E pure electric, F G H J K
    /// other) first, then a letter or digit, then 4 digits, e.g. `晋E·D12345`. Gradient green.
    NewEnergySmall,
    /// 大型新能源汽车号牌: 6 characters — 5 digits, then the energy letter, e.g. `晋E·12345D`.
    /// Yellow-green.
    NewEnergyLarge,
    /// 挂车号牌: 4 letters or digits and 挂, e.g. `晋E·1234挂`. Yellow.
    Trailer,
    /// 教练汽车号牌: 4 letters or digits and 学, e.g. `晋E·1234学`. Yellow.
    DrivingSchool,
    /// 警用汽车号牌: 4 letters or digits and 警, e.g. `晋E·1234警`. White.
    Police,
    /// 港澳入出境车号牌 for Hong Kong: `粤Z`, 4 letters or digits and 港. Black.
    HongKong,
    /// 港澳入出境车号牌 for Macao: `粤Z`, 4 letters or digits and 澳. Black.
    Macao,
    /// 应急救援专用号牌 (fire and rescue vehicles; defined by 国办发〔2018〕114号, not by
    /// GA 36-2018 itself): province, rescue-team letter, 4 letters or digits and 应急, e.g.
    /// `晋E·1234应急`. White with black characters and a red 应急.
    Emergency,
}

impl PlateKind {
    /// The suffix that ends plates of this kind (挂 学 警 港 澳 应急), if any.
    pub fn suffix(self) -> Option<&'static str> {
        match self {
            Self::Ordinary | Self::NewEnergySmall | Self::NewEnergyLarge => None,
            Self::Trailer => Some("挂"),
            Self::DrivingSchool => Some("学"),
            Self::Police => Some("警"),
            Self::HongKong => Some("港"),
            Self::Macao => Some("澳"),
            Self::Emergency => Some("应急"),
        }
    }

    /// Number of letters and digits between the authority letter and the suffix.
    pub fn serial_len(self) -> usize {
        match self {
            Self::Ordinary => 5,
            Self::NewEnergySmall | Self::NewEnergyLarge => 6,
            Self::Trailer
            | Self::DrivingSchool
            | Self::Police
            | Self::HongKong
            | Self::Macao
            | Self::Emergency => 4,
        }
    }

    /// The colour plates of this kind have, where the kind determines it: `None` for
    /// [`PlateKind::Ordinary`], which is blue on small vehicles and yellow on large ones
    /// (heavy goods vehicles); the plate's own colour must then be recorded.
    pub fn default_colour(self) -> Option<PlateColour> {
        match self {
            Self::Ordinary => None,
            Self::NewEnergySmall => Some(PlateColour::Green),
            Self::NewEnergyLarge => Some(PlateColour::YellowGreen),
            Self::Trailer | Self::DrivingSchool => Some(PlateColour::Yellow),
            Self::Police | Self::Emergency => Some(PlateColour::White),
            Self::HongKong | Self::Macao => Some(PlateColour::Black),
        }
    }
}

impl fmt::Display for PlateKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Ordinary => "ordinary",
            Self::NewEnergySmall => "new-energy small",
            Self::NewEnergyLarge => "new-energy large",
            Self::Trailer => "trailer",
            Self::DrivingSchool => "driving-school",
            Self::Police => "police",
            Self::HongKong => "hong kong cross-border",
            Self::Macao => "macao cross-border",
            Self::Emergency => "emergency rescue",
        })
    }
}

/// A licence plate number (号牌号码) per GA 36-2018, normalised: province abbreviation,
/// issuing-office letter (发牌机关代号, A–Z without I and O), serial and kind.
///
/// Parse with [`Plate::parse`] or [`str::parse`]. [`Display`](fmt::Display) gives the canonical
/// identifier without separator (`晋E12345`, `晋ED12345`, `晋E1234挂`); the alternate form
/// `{:#}` gives the form printed on the plate, with a middle dot after the authority letter
/// (`晋E·12345`). Serde uses the canonical string; deserialising accepts whatever
/// [`Plate::parse`] accepts and fails on anything else.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Plate {
    province: Province,
    authority: char,
    /// ASCII upper-case letters and digits, without the suffix.
    serial: String,
    kind: PlateKind,
}

impl Plate {
    /// Normalises and validates a plate as people type it.
    ///
    /// Drops whitespace (ASCII and the ideographic space U+3000) and separators (the middle
    /// dots `·` `・` `•` `‧`, `.` and `-`), turns full-width letters and digits into ASCII and
    /// upper-cases; then checks the shape against GA 36-2018 (see [`PlateKind`]).
    ///
    /// # Errors
    ///
    /// A [`PlateError`] saying what is wrong and, where it is one character, where it is.
    pub fn parse(input: &str) -> Result<Self, PlateError> {
        let chars = normalise(input);
        let Some((&(first, _), rest)) = chars.split_first() else {
            return Err(PlateError::Empty);
        };
        let province = Province::new(first)?;
        let Some((&(authority, position), rest)) = rest.split_first() else {
            return Err(PlateError::MissingAuthority);
        };
        match authority {
            'I' | 'O' => {
                return Err(PlateError::ForbiddenLetter {
                    letter: authority,
                    position,
                });
            }
            'A'..='Z' => {}
            c if c.is_ascii_digit() || c == '应' || SUFFIXES.iter().any(|&(s, _)| s == c) => {
                return Err(PlateError::MissingAuthority);
            }
            found => return Err(PlateError::InvalidCharacter { found, position }),
        }

        let (body, suffix_kind) = split_suffix(rest);
        check_body_chars(body)?;
        let kind = match (suffix_kind, body) {
            (Some(kind), _) => {
                if body.len() != kind.serial_len() {
                    return Err(PlateError::WrongLength {
                        kind,
                        expected: kind.serial_len(),
                        got: body.len(),
                    });
                }
                if matches!(kind, PlateKind::HongKong | PlateKind::Macao)
                    && (province.as_char() != '粤' || authority != 'Z')
                {
                    return Err(PlateError::CrossBorderOffice {
                        province,
                        authority,
                    });
                }
                kind
            }
            (None, [_, _, _, _, _]) => PlateKind::Ordinary,
            (None, &[a, b, c, d, e, f]) => new_energy_kind([a, b, c, d, e, f])?,
            (None, _) => return Err(PlateError::WrongSerialLength { got: body.len() }),
        };
        Ok(Self {
            province,
            authority,
            serial: body.iter().map(|&(c, _)| c).collect(),
            kind,
        })
    }

    /// The province abbreviation, e.g. 晋.
    pub fn province(&self) -> Province {
        self.province
    }

    /// The issuing-office letter (发牌机关代号; the rescue-team letter on emergency plates),
    /// e.g. `'E'` for 晋城 in 晋E.
    pub fn authority(&self) -> char {
        self.authority
    }

    /// The letters and digits after the authority letter, without suffix: `"1234"` for
    /// `晋E1234挂`.
    pub fn serial(&self) -> &str {
        &self.serial
    }

    /// The shape of the plate.
    pub fn kind(&self) -> PlateKind {
        self.kind
    }

    /// The plate's colour where its kind determines it ([`PlateKind::default_colour`]);
    /// `None` for ordinary plates, which are blue or yellow.
    pub fn default_colour(&self) -> Option<PlateColour> {
        self.kind.default_colour()
    }
}

impl FromStr for Plate {
    type Err = PlateError;

    fn from_str(s: &str) -> Result<Self, PlateError> {
        Self::parse(s)
    }
}

impl TryFrom<String> for Plate {
    type Error = PlateError;

    fn try_from(s: String) -> Result<Self, PlateError> {
        Self::parse(&s)
    }
}

impl From<Plate> for String {
    fn from(plate: Plate) -> Self {
        plate.to_string()
    }
}

impl fmt::Display for Plate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use fmt::Write as _;
        f.write_char(self.province.as_char())?;
        f.write_char(self.authority)?;
        if f.alternate() {
            f.write_char('·')?;
        }
        f.write_str(&self.serial)?;
        f.write_str(self.kind.suffix().unwrap_or(""))
    }
}

/// Part of a plate as people type it, normalised as [`Plate::parse`] normalises a whole one
/// (whitespace and separators dropped, full-width to ASCII, upper case) but not validated:
/// for searching plates by a fragment (`e·123` finds `晋E12345`).
pub fn normalise_fragment(input: &str) -> String {
    normalise(input).into_iter().map(|(c, _)| c).collect()
}

/// Drops whitespace and separators, maps full-width letters and digits to ASCII, upper-cases;
/// keeps each character's 1-based position in the input.
fn normalise(input: &str) -> Vec<(char, usize)> {
    input
        .chars()
        .zip(1..)
        .filter(|&(c, _)| !c.is_whitespace() && !SEPARATORS.contains(&c))
        .map(|(c, position)| {
            let c = match c {
                '\u{FF10}'..='\u{FF19}' | '\u{FF21}'..='\u{FF3A}' | '\u{FF41}'..='\u{FF5A}' => {
                    char::from_u32(u32::from(c) - 0xFEE0).unwrap_or(c)
                }
                _ => c,
            };
            (c.to_ascii_uppercase(), position)
        })
        .collect()
}

/// The suffix starting at `index` of `chars`, with its length in characters.
fn suffix_at(chars: &[(char, usize)], index: usize) -> Option<(PlateKind, usize)> {
    let (first, _) = *chars.get(index)?;
    if let Some(&(_, kind)) = SUFFIXES.iter().find(|(c, _)| *c == first) {
        return Some((kind, 1));
    }
    match (first, chars.get(index + 1)) {
        ('应', Some(('急', _))) => Some((PlateKind::Emergency, 2)),
        _ => None,
    }
}

/// Splits a suffix that ends the plate off the serial.
fn split_suffix(rest: &[(char, usize)]) -> (&[(char, usize)], Option<PlateKind>) {
    for len in [2, 1] {
        if let Some(start) = rest.len().checked_sub(len)
            && let Some((kind, found_len)) = suffix_at(rest, start)
            && found_len == len
        {
            return (rest.get(..start).unwrap_or_default(), Some(kind));
        }
    }
    (rest, None)
}

/// Every serial character must be an ASCII upper-case letter other than I and O, or a digit.
fn check_body_chars(body: &[(char, usize)]) -> Result<(), PlateError> {
    for (index, &(c, position)) in body.iter().enumerate() {
        if let Some((kind, _)) = suffix_at(body, index) {
            return Err(PlateError::MisplacedSuffix {
                suffix: kind.suffix().unwrap_or_default(),
                position,
            });
        }
        match c {
            'I' | 'O' => {
                return Err(PlateError::ForbiddenLetter {
                    letter: c,
                    position,
                });
            }
            'A'..='Z' | '0'..='9' => {}
            found => return Err(PlateError::InvalidCharacter { found, position }),
        }
    }
    Ok(())
}

/// Classifies a 6-character serial (already checked to be letters and digits).
fn new_energy_kind(serial: [(char, usize); 6]) -> Result<PlateKind, PlateError> {
    let is_energy = |c: char| ENERGY_LETTERS.contains(&c);
    let digits_only =
        |chars: &[(char, usize)], kind| match chars.iter().find(|(c, _)| !c.is_ascii_digit()) {
            Some(&(found, position)) => Err(PlateError::ExpectedDigit {
                kind,
                found,
                position,
            }),
            None => Ok(kind),
        };
    let [(first, _), .., (last, _)] = serial;
    if is_energy(first) {
        return digits_only(
            serial.get(2..).unwrap_or_default(),
            PlateKind::NewEnergySmall,
        );
    }
    if is_energy(last) {
        return digits_only(
            serial.get(..5).unwrap_or_default(),
            PlateKind::NewEnergyLarge,
        );
    }
    if let Some(&(letter, position)) = serial.iter().find(|&&(c, _)| is_energy(c)) {
        return Err(PlateError::MisplacedEnergyLetter { letter, position });
    }
    Err(PlateError::MissingEnergyLetter {
        serial: serial.iter().map(|&(c, _)| c).collect(),
    })
}

/// Plate colour (车牌颜色代码) per JT/T 697.7-2014 (交通信息基础数据元 第7部分：道路运输信息
/// 基础数据元): 1 blue, 2 yellow, 3 black, 4 white, 5 green, 9 other.
///
/// Serde and [`Display`](fmt::Display) use the lower-case English name (`"blue"`,
/// `"yellow-green"`); [`FromStr`] also accepts the code digits and Chinese names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PlateColour {
    /// 蓝色, code 1: ordinary plates of small vehicles.
    Blue,
    /// 黄色, code 2: ordinary plates of large vehicles (大型汽车, heavy goods vehicles
    /// among them), trailers, driving schools.
    Yellow,
    /// 黑色, code 3: Hong Kong and Macao cross-border vehicles, foreign-owned vehicles.
    Black,
    /// 白色, code 4: police and emergency-rescue vehicles.
    White,
    /// 绿色 (渐变绿), code 5: small new-energy vehicles.
    Green,
    /// 黄绿双拼色: large new-energy vehicles. JT/T 697.7-2014 predates these plates and has no
    /// code for them ([`PlateColour::code`] is `None`); each interface maps it itself.
    YellowGreen,
    /// 其他, code 9.
    Other,
}

impl PlateColour {
    /// Every colour, in code order with yellow-green before other.
    pub const ALL: [Self; 7] = [
        Self::Blue,
        Self::Yellow,
        Self::Black,
        Self::White,
        Self::Green,
        Self::YellowGreen,
        Self::Other,
    ];

    /// The JT/T 697.7-2014 code; `None` for [`PlateColour::YellowGreen`], which has none.
    pub fn code(self) -> Option<u8> {
        match self {
            Self::Blue => Some(1),
            Self::Yellow => Some(2),
            Self::Black => Some(3),
            Self::White => Some(4),
            Self::Green => Some(5),
            Self::YellowGreen => None,
            Self::Other => Some(9),
        }
    }

    /// The colour for a JT/T 697.7-2014 code (1–5, 9).
    ///
    /// # Errors
    ///
    /// [`PlateError::UnknownColourCode`] for any other number (some interfaces use 0 for a
    /// vehicle without plates: that is not a colour).
    pub fn from_code(code: u8) -> Result<Self, PlateError> {
        Self::ALL
            .into_iter()
            .find(|colour| colour.code() == Some(code))
            .ok_or(PlateError::UnknownColourCode { code })
    }

    /// The lower-case English name used by `Display` and serde, e.g. `"yellow-green"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Blue => "blue",
            Self::Yellow => "yellow",
            Self::Black => "black",
            Self::White => "white",
            Self::Green => "green",
            Self::YellowGreen => "yellow-green",
            Self::Other => "other",
        }
    }

    /// The Chinese name, e.g. `"黄色"`, `"渐变绿色"`, `"黄绿双拼色"`.
    pub fn chinese_name(self) -> &'static str {
        match self {
            Self::Blue => "蓝色",
            Self::Yellow => "黄色",
            Self::Black => "黑色",
            Self::White => "白色",
            Self::Green => "渐变绿色",
            Self::YellowGreen => "黄绿双拼色",
            Self::Other => "其他",
        }
    }
}

impl fmt::Display for PlateColour {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for PlateColour {
    type Err = PlateError;

    /// Accepts the code (`"2"`), the English name in any case (`"Yellow"`, `"yellow-green"`,
    /// `"yellow_green"`) or a Chinese name (`"黄"`, `"黄色"`, `"渐变绿"`, `"黄绿"`, `"其他"`).
    fn from_str(s: &str) -> Result<Self, PlateError> {
        let trimmed = s.trim();
        if let Ok(code) = trimmed.parse::<u8>() {
            return Self::from_code(code);
        }
        let name = trimmed.to_ascii_lowercase().replace(['_', ' '], "-");
        let colour = match name.as_str() {
            "blue" | "蓝" | "蓝色" => Self::Blue,
            "yellow" | "黄" | "黄色" => Self::Yellow,
            "black" | "黑" | "黑色" => Self::Black,
            "white" | "白" | "白色" => Self::White,
            "green" | "绿" | "绿色" | "渐变绿" | "渐变绿色" => Self::Green,
            "yellow-green" | "yellowgreen" | "黄绿" | "黄绿色" | "黄绿双拼" | "黄绿双拼色" => {
                Self::YellowGreen
            }
            "other" | "其他" | "其它" => Self::Other,
            _ => {
                return Err(PlateError::UnknownColour {
                    found: trimmed.to_owned(),
                });
            }
        };
        Ok(colour)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn plate(s: &str) -> Plate {
        match Plate::parse(s) {
            Ok(p) => p,
            Err(e) => panic!("{s:?} should parse: {e}"),
        }
    }

    fn error(s: &str) -> PlateError {
        match Plate::parse(s) {
            Ok(p) => panic!("{s:?} should not parse, got {p}"),
            Err(e) => e,
        }
    }

    #[test]
    fn fragments_normalise_like_plates() {
        assert_eq!(normalise_fragment(" e·１２3 "), "E123");
        assert!(
            plate("晋E12345")
                .to_string()
                .contains(&normalise_fragment("e-123"))
        );
        assert_eq!(normalise_fragment("・ "), "");
    }

    #[test]
    fn ordinary_plates() {
        let p = plate("晋E12345");
        assert_eq!(p.province().as_char(), '晋');
        assert_eq!(p.authority(), 'E');
        assert_eq!(p.serial(), "12345");
        assert_eq!(p.kind(), PlateKind::Ordinary);
        assert_eq!(p.default_colour(), None);
        assert_eq!(plate("晋E·A1234").to_string(), "晋EA1234");
        assert_eq!(plate("京AF0236").serial(), "F0236");
        assert_eq!(plate("京AF0236").kind(), PlateKind::Ordinary);
    }

    #[test]
    fn new_energy_plates() {
        let small = plate("晋ED12345");
        assert_eq!(
            (small.kind(), small.serial()),
            (PlateKind::NewEnergySmall, "D12345")
        );
        assert_eq!(small.default_colour(), Some(PlateColour::Green));
        assert_eq!(plate("京AFA1234").kind(), PlateKind::NewEnergySmall);
        let large = plate("晋E12345D");
        assert_eq!(
            (large.kind(), large.serial()),
            (PlateKind::NewEnergyLarge, "12345D")
        );
        assert_eq!(large.default_colour(), Some(PlateColour::YellowGreen));
        assert_eq!(plate("晋E·12345F").to_string(), "晋E12345F");
    }

    #[test]
    fn suffixed_plates() {
        let trailer = plate("晋E1234挂");
        assert_eq!(
            (trailer.kind(), trailer.serial()),
            (PlateKind::Trailer, "1234")
        );
        assert_eq!(trailer.default_colour(), Some(PlateColour::Yellow));
        assert_eq!(trailer.to_string(), "晋E1234挂");
        assert_eq!(format!("{:#}", plate("晋E·A123挂")), "晋E·A123挂");
        assert_eq!(plate("晋E·1234学").kind(), PlateKind::DrivingSchool);
        let police = plate("晋E·1234警");
        assert_eq!(police.kind(), PlateKind::Police);
        assert_eq!(police.default_colour(), Some(PlateColour::White));
        let hk = plate("粤Z·1234港");
        assert_eq!(
            (hk.kind(), hk.default_colour()),
            (PlateKind::HongKong, Some(PlateColour::Black))
        );
        assert_eq!(plate("粤Z1234澳").kind(), PlateKind::Macao);
        let rescue = plate("晋E·1234应急");
        assert_eq!(
            (rescue.kind(), rescue.serial()),
            (PlateKind::Emergency, "1234")
        );
        assert_eq!(rescue.to_string(), "晋E1234应急");
    }

    #[test]
    fn normalises_what_people_type() {
        for typed in [
            "晋e·１２３４５",
            "晋 E 12345",
            "晋E-12345",
            "晋Ｅ12345",
            "晋ｅ・12345",
            "\u{3000}晋E.12345 ",
            "晋E•12345",
            "晋E‧12345",
        ] {
            assert_eq!(plate(typed).to_string(), "晋E12345", "{typed:?}");
        }
        assert_eq!(format!("{:#}", plate("晋E12345")), "晋E·12345");
        assert_eq!(plate("晋e·d12345").to_string(), "晋ED12345");
    }

    #[test]
    fn rejections_say_what_is_wrong() {
        for (input, message) in [
            ("", "empty plate"),
            (" · ", "empty plate"),
            ("港E12345", "unknown province '港'"),
            ("X E12345", "unknown province 'X'"),
            ("晋", "missing authority letter"),
            ("晋12345", "missing authority letter"),
            ("晋挂", "missing authority letter"),
            ("晋I12345", "letter I is not used on plates (position 2)"),
            ("晋E·12O45", "letter O is not used on plates (position 6)"),
            ("晋Ei2345", "letter I is not used on plates (position 3)"),
            ("晋E12#45", "invalid character '#' at position 5"),
            ("晋E12345急", "invalid character '急' at position 8"),
            ("晋晋12345", "invalid character '晋' at position 2"),
            (
                "晋E1234",
                "wrong length: expects 5 characters after the authority letter \
                 (6 on new-energy plates), got 4",
            ),
            (
                "晋E1234567",
                "wrong length: expects 5 characters after the authority letter \
                 (6 on new-energy plates), got 7",
            ),
            (
                "晋E12345挂",
                "wrong length: trailer plate expects 4 characters between the authority \
                 letter and 挂, got 5",
            ),
            (
                "晋E123应急",
                "wrong length: emergency rescue plate expects 4 characters between the \
                 authority letter and 应急, got 3",
            ),
            (
                "晋E12挂34",
                "suffix 挂 at position 5 must come at the end of the plate",
            ),
            (
                "晋E1234挂X",
                "suffix 挂 at position 7 must come at the end of the plate",
            ),
            (
                "晋E应急1234",
                "suffix 应急 at position 3 must come at the end of the plate",
            ),
            (
                "晋E1D2345",
                "new-energy letter 'D' must come first (small) or last after five digits \
                 (large), found at position 4",
            ),
            (
                "晋E·D1X234",
                "new-energy small plate needs a digit at position 6, got 'X'",
            ),
            (
                "晋E1234XD",
                "new-energy large plate needs a digit at position 7, got 'X'",
            ),
            (
                "晋E123456",
                "new-energy plate '123456' has no energy letter: one of D A B C E F G H J K \
                 must come first or last",
            ),
            (
                "晋E1234港",
                "cross-border plates ending in 港 or 澳 are issued only as 粤Z, got 晋E",
            ),
            (
                "粤A1234澳",
                "cross-border plates ending in 港 or 澳 are issued only as 粤Z, got 粤A",
            ),
        ] {
            assert_eq!(error(input).to_string(), message, "{input:?}");
        }
    }

    #[test]
    fn errors_carry_the_data() {
        let forbidden = PlateError::ForbiddenLetter {
            letter: 'O',
            position: 6,
        };
        assert_eq!(error("晋E·12O45"), forbidden);
        let misplaced = PlateError::MisplacedEnergyLetter {
            letter: 'D',
            position: 4,
        };
        assert_eq!(error("晋E1D2345"), misplaced);
        let digit = PlateError::ExpectedDigit {
            kind: PlateKind::NewEnergyLarge,
            found: 'X',
            position: 7,
        };
        assert_eq!(error("晋E1234XD"), digit);
        let length = PlateError::WrongLength {
            kind: PlateKind::Trailer,
            expected: 4,
            got: 5,
        };
        assert_eq!(error("晋E12345挂"), length);
        let suffix = PlateError::MisplacedSuffix {
            suffix: "应急",
            position: 3,
        };
        assert_eq!(error("晋E应急1234"), suffix);
        assert_eq!(
            error("晋E12345急"),
            PlateError::InvalidCharacter {
                found: '急',
                position: 8
            }
        );
    }

    #[test]
    fn province_list() {
        assert_eq!(Province::all().count(), 31);
        assert!(Province::new('晋').is_ok());
        assert_eq!(
            Province::try_from('台'),
            Err(PlateError::UnknownProvince { found: '台' })
        );
    }

    #[test]
    fn colour_codes_round_trip() {
        for colour in PlateColour::ALL {
            match colour.code() {
                Some(code) => {
                    assert_eq!(PlateColour::from_code(code), Ok(colour));
                    assert_eq!(code.to_string().parse::<PlateColour>(), Ok(colour));
                }
                None => assert_eq!(colour, PlateColour::YellowGreen),
            }
            assert_eq!(colour.to_string().parse::<PlateColour>(), Ok(colour));
            assert_eq!(colour.chinese_name().parse::<PlateColour>(), Ok(colour));
        }
        assert_eq!(PlateColour::Yellow.code(), Some(2));
        assert_eq!(PlateColour::Other.code(), Some(9));
        for code in [0, 6, 7, 8, 10, 255] {
            assert_eq!(
                PlateColour::from_code(code),
                Err(PlateError::UnknownColourCode { code })
            );
        }
        assert_eq!(
            PlateColour::from_code(0).unwrap_err().to_string(),
            "unknown plate colour code 0"
        );
    }

    #[test]
    fn colour_names_parse() {
        let cases = [
            ("蓝", PlateColour::Blue),
            ("黄", PlateColour::Yellow),
            ("黄色", PlateColour::Yellow),
            ("黑", PlateColour::Black),
            ("白", PlateColour::White),
            ("绿", PlateColour::Green),
            ("渐变绿", PlateColour::Green),
            ("黄绿", PlateColour::YellowGreen),
            ("黄绿色", PlateColour::YellowGreen),
            ("其他", PlateColour::Other),
            (" Yellow ", PlateColour::Yellow),
            ("YELLOW_GREEN", PlateColour::YellowGreen),
        ];
        for (name, colour) in cases {
            assert_eq!(name.parse::<PlateColour>(), Ok(colour), "{name:?}");
        }
        assert_eq!(
            "紫".parse::<PlateColour>(),
            Err(PlateError::UnknownColour {
                found: "紫".into()
            })
        );
        assert!("".parse::<PlateColour>().is_err());
    }

    #[test]
    fn serde_round_trips() -> Result<(), serde_json::Error> {
        let p = plate("晋E·1234挂");
        let json = serde_json::to_string(&p)?;
        assert_eq!(json, "\"晋E1234挂\"");
        assert_eq!(serde_json::from_str::<Plate>(&json)?, p);
        assert!(serde_json::from_str::<Plate>("\"晋I12345\"").is_err());
        assert!(serde_json::from_str::<Plate>("\"\"").is_err());
        assert!(serde_json::from_str::<Plate>("42").is_err());
        assert_eq!(
            serde_json::to_string(&PlateColour::YellowGreen)?,
            "\"yellow-green\""
        );
        assert_eq!(
            serde_json::from_str::<PlateColour>("\"blue\"")?,
            PlateColour::Blue
        );
        assert!(serde_json::from_str::<PlateColour>("\"purple\"").is_err());
        Ok(())
    }

    const LETTERS: &str = "ABCDEFGHJKLMNPQRSTUVWXYZ";
    const ALNUM: &str = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789";

    fn pick(set: &'static str) -> impl Strategy<Value = char> {
        proptest::sample::select(set.chars().collect::<Vec<_>>())
    }

    fn chars(set: &'static str, n: usize) -> impl Strategy<Value = String> {
        proptest::collection::vec(pick(set), n).prop_map(|v| v.into_iter().collect())
    }

    /// A valid plate in canonical form, with its kind.
    fn valid_plate() -> impl Strategy<Value = (String, PlateKind)> {
        let office = || {
            (proptest::sample::select(PROVINCES.to_vec()), pick(LETTERS))
                .prop_map(|(p, a)| format!("{p}{a}"))
        };
        let suffixed = |kind: PlateKind| {
            (office(), chars(ALNUM, 4)).prop_map(move |(o, s)| {
                (format!("{o}{s}{}", kind.suffix().unwrap_or_default()), kind)
            })
        };
        prop_oneof![
            (office(), chars(ALNUM, 5)).prop_map(|(o, s)| (o + &s, PlateKind::Ordinary)),
            (
                office(),
                pick("DABCEFGHJK"),
                pick(ALNUM),
                chars("0123456789", 4)
            )
                .prop_map(|(o, e, x, d)| (format!("{o}{e}{x}{d}"), PlateKind::NewEnergySmall)),
            (office(), chars("0123456789", 5), pick("DABCEFGHJK"))
                .prop_map(|(o, d, e)| (format!("{o}{d}{e}"), PlateKind::NewEnergyLarge)),
            suffixed(PlateKind::Trailer),
            suffixed(PlateKind::DrivingSchool),
            suffixed(PlateKind::Police),
            suffixed(PlateKind::Emergency),
            (
                chars(ALNUM, 4),
                prop_oneof![Just(PlateKind::HongKong), Just(PlateKind::Macao)]
            )
                .prop_map(|(s, k)| (format!("粤Z{s}{}", k.suffix().unwrap_or_default()), k)),
        ]
    }

    proptest! {
        #[test]
        fn valid_plates_round_trip((text, kind) in valid_plate()) {
            let p = Plate::parse(&text).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(p.kind(), kind);
            prop_assert_eq!(p.to_string(), text);
            prop_assert_eq!(Plate::parse(&p.to_string()), Ok(p.clone()));
            prop_assert_eq!(Plate::parse(&format!("{p:#}")), Ok(p));
        }

        #[test]
        fn messy_typing_normalises(
            (text, _) in valid_plate(),
            noise in proptest::collection::vec(0u8..6, 12),
        ) {
            // Per character: keep, lower-case, full-width, or add a space or a dot after it.
            let messy: String = text
                .chars()
                .zip(noise.iter().cycle())
                .map(|(c, n)| match n {
                    1 => c.to_ascii_lowercase().to_string(),
                    2 if c.is_ascii_alphanumeric() => char::from_u32(u32::from(c) + 0xFEE0)
                        .map_or(c.to_string(), String::from),
                    3 => format!("{c} "),
                    4 => format!("{c}·"),
                    5 => format!("\u{3000}{c}"),
                    _ => c.to_string(),
                })
                .collect();
            prop_assert_eq!(Plate::parse(&messy).map(|p| p.to_string()), Ok(text));
        }

        #[test]
        fn arbitrary_text_never_panics(s in any::<String>()) {
            if let Ok(p) = Plate::parse(&s) {
                prop_assert_eq!(Plate::parse(&p.to_string()), Ok(p));
            }
        }

        #[test]
        fn plate_like_text_never_panics(s in "[京晋粤港X eE·.\\-0-9A-Zaio挂学警港澳应急ＡＥ１　]{0,12}") {
            if let Ok(p) = Plate::parse(&s) {
                prop_assert_eq!(Plate::parse(&format!("{p:#}")), Ok(p));
            }
        }
    }
}
