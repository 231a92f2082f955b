//! Who supervises a source unit (货运源头单位), and administrative division codes.
//!
//! The county plan 阳政办发〔2024〕42号 does not leave supervision of source units to one
//! office: coal mines (煤矿) answer to the emergency management bureau (应急管理局), ceramics
//! plants (陶瓷企业) to the development zone (开发区), and every other listed unit to the
//! township (乡镇) it lies in; the county overload office (县治超办) oversees all of them. An
//! over-limit departure (超限出场) alert therefore has two recipients, and who they are must be
//! computed the same way on every phone and on the server — hence [`route`] and
//! [`alert_recipients`] here, in the shared core.
//!
//! Townships are named by administrative division codes (行政区划代码), so this module also
//! holds [`AdminCode`]: the 6-digit GB/T 2260 codes of provinces, prefectures and counties,
//! the 9-digit township codes of GB/T 10114 (county code + 3 digits) and the 12-digit form of
//! the statistical division lists, with their level and containment.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Powers of ten, `POW10[n] = 10^n`, for n up to the 12 digits of the longest code.
const POW10: [u64; 13] = [
    1,
    10,
    100,
    1_000,
    10_000,
    100_000,
    1_000_000,
    10_000_000,
    100_000_000,
    1_000_000_000,
    10_000_000_000,
    100_000_000_000,
    1_000_000_000_000,
];

/// Digits in the longest accepted form (the 12-digit statistical code).
const MAX_DIGITS: usize = 12;

/// 晋城市 (Jincheng, a prefecture-level city of Shanxi): `140500`.
///
/// Per the county plan (阳政办发〔2024〕42号) and project notes; the value was recalled, not
/// read from the standard — verify against the current GB/T 2260 list before relying on it.
pub const JINCHENG_CITY: AdminCode = AdminCode::six(140_500);

/// 阳城县 (Yangcheng County, under 晋城市): `140522`.
///
/// Per the county plan (阳政办发〔2024〕42号) and project notes; the value was recalled, not
/// read from the standard — verify against the current GB/T 2260 list before relying on it.
pub const YANGCHENG_COUNTY: AdminCode = AdminCode::six(140_522);

/// An administrative division code (行政区划代码).
///
/// Shapes accepted (ASCII or full-width digits, surrounding whitespace ignored):
///
/// - 6 digits, GB/T 2260: `xx0000` a province (省级), `xxxx00` a prefecture (地级), otherwise
///   a county (县级), e.g. `140000` 山西省, `140500` 晋城市, `140522` 阳城县;
/// - 9 digits, GB/T 10114: a township (乡镇街道) = the 6-digit code + 3 digits;
/// - 12 digits, the statistical division code (统计用区划代码): township code + 3 village
///   digits (村级), `000` for the township itself.
///
/// The digits are kept as given (a 12-digit township code stays 12 digits; use
/// [`AdminCode::township`] or [`AdminCode::county`] for the short forms). Trailing groups of
/// zeros denote the enclosing unit, so [`AdminCode::level`] of `140522000000` is
/// [`AdminLevel::County`], as the statistical lists write 阳城县.
///
/// Serde reads and writes the code as a string of digits; an invalid string is a
/// deserialisation error. Ordering is that of the digit strings.
///
/// ```
/// use zhichao_core::jurisdiction::{AdminCode, AdminLevel, JINCHENG_CITY, YANGCHENG_COUNTY};
///
/// let code: AdminCode = "140522100".parse()?;
/// assert_eq!(code.level(), AdminLevel::Township);
/// assert_eq!(code.county(), Some(YANGCHENG_COUNTY));
/// assert!(code.is_within(&JINCHENG_CITY));
/// # Ok::<(), zhichao_core::jurisdiction::AdminCodeError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AdminCode {
    /// The digits read as a number, left-aligned to 12 digits (`140522` → `140522000000`),
    /// so that the derived ordering is that of the digit strings.
    padded: u64,
    /// Number of digits: 6, 9 or 12.
    digits: u8,
}

/// Level of an administrative division (行政区划层级).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AdminLevel {
    /// Province-level (省级): `xx0000`.
    Province,
    /// Prefecture-level (地级): `xxxx00`.
    Prefecture,
    /// County-level (县级): the other 6-digit codes.
    County,
    /// Township-level (乡级: 乡, 镇, 街道): 9 digits per GB/T 10114.
    Township,
    /// Village-level (村级: 村委会, 居委会): 12-digit statistical code not ending in `000`.
    Village,
}

impl AdminLevel {
    /// Number of leading digits that identify a unit of this level: 2, 4, 6, 9 or 12.
    pub const fn significant_digits(self) -> usize {
        match self {
            Self::Province => 2,
            Self::Prefecture => 4,
            Self::County => 6,
            Self::Township => 9,
            Self::Village => 12,
        }
    }

    /// Chinese name of the level: 省级, 地级, 县级, 乡级, 村级.
    pub const fn chinese_name(self) -> &'static str {
        match self {
            Self::Province => "省级",
            Self::Prefecture => "地级",
            Self::County => "县级",
            Self::Township => "乡级",
            Self::Village => "村级",
        }
    }
}

/// Why a string is not an administrative division code.
///
/// Positions are 1-based and count characters of the trimmed input.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AdminCodeError {
    /// The input is empty or only whitespace.
    #[error("empty administrative division code")]
    Empty,
    /// A character that is not a decimal digit.
    #[error("invalid character {ch:?} at position {position}: expected a digit")]
    NotADigit {
        /// The offending character.
        ch: char,
        /// 1-based position of the character.
        position: usize,
    },
    /// The number of digits is not 6 (GB/T 2260), 9 (GB/T 10114) or 12 (statistical form).
    #[error("wrong length: expected 6, 9 or 12 digits, got {got}")]
    WrongLength {
        /// Digits found.
        got: usize,
    },
    /// The province part (first two digits) is `00`, which no division has.
    #[error("province part must not be 00")]
    ZeroProvince,
}

/// Normalises user input: trims whitespace and maps full-width digits (U+FF10–U+FF19) to
/// ASCII digits.
fn normalise(input: &str) -> impl Iterator<Item = char> + '_ {
    input.trim().chars().map(|c| match c {
        '\u{FF10}'..='\u{FF19}' => char::from_u32(u32::from(c) - 0xFEE0).unwrap_or(c),
        _ => c,
    })
}

impl AdminCode {
    /// A 6-digit code from its numeric value; only for the constants of this module.
    const fn six(value: u32) -> Self {
        Self {
            padded: value as u64 * POW10[6],
            digits: 6,
        }
    }

    /// Parses and validates a code (see the [type docs](AdminCode)); same as [`FromStr`].
    ///
    /// # Errors
    ///
    /// [`AdminCodeError::Empty`], [`AdminCodeError::NotADigit`],
    /// [`AdminCodeError::WrongLength`] or [`AdminCodeError::ZeroProvince`], checked in that
    /// order.
    pub fn parse(input: &str) -> Result<Self, AdminCodeError> {
        let mut value: u64 = 0;
        let mut count: usize = 0;
        for (i, ch) in normalise(input).enumerate() {
            let digit = ch.to_digit(10).ok_or(AdminCodeError::NotADigit {
                ch,
                position: i + 1,
            })?;
            count += 1;
            if count <= MAX_DIGITS {
                value = value * 10 + u64::from(digit);
            }
        }
        let digits = match count {
            0 => return Err(AdminCodeError::Empty),
            6 => 6,
            9 => 9,
            12 => 12,
            got => return Err(AdminCodeError::WrongLength { got }),
        };
        let code = Self {
            padded: value * POW10[MAX_DIGITS - usize::from(digits)],
            digits,
        };
        if code.prefix(2) == 0 {
            return Err(AdminCodeError::ZeroProvince);
        }
        Ok(code)
    }

    /// The first `n` digits (n ≤ 12) of the code, zero-padded to 12, as a number.
    fn prefix(&self, n: usize) -> u64 {
        self.padded / POW10[MAX_DIGITS - n.min(MAX_DIGITS)]
    }

    /// The code truncated to its first `n` digits (6 or 9), as a code of that length.
    fn truncated(&self, n: u8) -> Self {
        let n = n.min(self.digits);
        let keep = POW10[MAX_DIGITS - usize::from(n)];
        Self {
            padded: self.padded / keep * keep,
            digits: n,
        }
    }

    /// Number of digits as given: 6, 9 or 12.
    pub fn digit_count(&self) -> usize {
        usize::from(self.digits)
    }

    /// Level of the division: the deepest group of digits that is not all zeros
    /// (province `xx`, prefecture `xx`, county `xx`, township `xxx`, village `xxx`).
    ///
    /// For 6-digit codes this is the GB/T 2260 rule (`xx0000` province, `xxxx00`
    /// prefecture, otherwise county); a 9-digit code is a township and a 12-digit code a
    /// village unless its trailing groups are zeros.
    pub fn level(&self) -> AdminLevel {
        if !self.padded.is_multiple_of(1_000) {
            AdminLevel::Village
        } else if !self.prefix(9).is_multiple_of(1_000) {
            AdminLevel::Township
        } else if !self.prefix(6).is_multiple_of(100) {
            AdminLevel::County
        } else if !self.prefix(4).is_multiple_of(100) {
            AdminLevel::Prefecture
        } else {
            AdminLevel::Province
        }
    }

    /// The 6-digit code of the county-level part, for county-, township- and village-level
    /// codes (a county-level code gives itself, shortened to 6 digits if it was longer);
    /// `None` for provinces and prefectures.
    ///
    /// For a township directly under a prefecture-level city without counties (e.g. the
    /// towns of 东莞 `441900`), the 6-digit part is that city's code, of level
    /// [`AdminLevel::Prefecture`].
    pub fn county(&self) -> Option<Self> {
        (self.level() >= AdminLevel::County).then(|| self.truncated(6))
    }

    /// The 9-digit township code, for township- and village-level codes (a 12-digit
    /// township code is shortened to 9 digits); `None` for higher levels, and for a village code
    /// whose township digits are zeros.
    pub fn township(&self) -> Option<Self> {
        // A village code whose township digits are zeros has no township part.
        (self.level() >= AdminLevel::Township)
            .then(|| self.truncated(9))
            .filter(|t| t.level() == AdminLevel::Township)
    }

    /// Whether this division lies within `other` (or is the same division): the code
    /// starts with the significant digits of `other` (2 for a province, 4 for a
    /// prefecture, 6 for a county, 9 for a township, 12 for a village).
    ///
    /// `140522100` is within `140522`, which is within `140500`, which is within `140000`;
    /// `140522` is not within `140521`. Codes of different lengths for the same division
    /// (`140522` and `140522000000`) are within each other.
    pub fn is_within(&self, other: &AdminCode) -> bool {
        let n = other.level().significant_digits();
        self.prefix(n) == other.prefix(n)
    }
}

impl FromStr for AdminCode {
    type Err = AdminCodeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<&str> for AdminCode {
    type Error = AdminCodeError;

    fn try_from(value: &str) -> Result<Self, Self::Error> {
        Self::parse(value)
    }
}

impl TryFrom<String> for AdminCode {
    type Error = AdminCodeError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<AdminCode> for String {
    fn from(value: AdminCode) -> Self {
        value.to_string()
    }
}

impl fmt::Display for AdminCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = self.digit_count();
        let value = self.prefix(digits);
        write!(f, "{value:0digits$}")
    }
}

/// Kind of freight source unit (货运源头单位), as listed by the county.
///
/// Serde uses the snake_case English name (`"coal_mine"`); [`FromStr`] also accepts the
/// Chinese terms (煤矿, 陶瓷企业, 砂石料场, 矿山, 水泥厂, 物流园区, 货运站场, 其他, …).
/// Display gives the snake_case name; [`SourceUnitKind::chinese_name`] the Chinese one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceUnitKind {
    /// Coal mine (煤矿); supervised by the emergency management bureau (应急管理局).
    CoalMine,
    /// Ceramics plant (陶瓷企业); supervised by the development zone (开发区).
    Ceramics,
    /// Sand and gravel yard or (non-coal) mine (砂石料场/矿山).
    Quarry,
    /// Cement plant (水泥厂).
    Cement,
    /// Logistics park or freight yard (物流园区/货运站场).
    LogisticsYard,
    /// Any other listed source unit (其他).
    Other,
}

/// Why a string names no [`SourceUnitKind`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown source unit kind {input:?}")]
pub struct ParseSourceUnitKindError {
    /// The input, trimmed.
    pub input: String,
}

impl SourceUnitKind {
    /// Every kind, in declaration order.
    pub const ALL: [Self; 6] = [
        Self::CoalMine,
        Self::Ceramics,
        Self::Quarry,
        Self::Cement,
        Self::LogisticsYard,
        Self::Other,
    ];

    /// The snake_case English name, as used by serde: `coal_mine`, `ceramics`, `quarry`,
    /// `cement`, `logistics_yard`, `other`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::CoalMine => "coal_mine",
            Self::Ceramics => "ceramics",
            Self::Quarry => "quarry",
            Self::Cement => "cement",
            Self::LogisticsYard => "logistics_yard",
            Self::Other => "other",
        }
    }

    /// The Chinese name: 煤矿, 陶瓷企业, 砂石料场, 水泥厂, 物流园区, 其他.
    pub const fn chinese_name(self) -> &'static str {
        match self {
            Self::CoalMine => "煤矿",
            Self::Ceramics => "陶瓷企业",
            Self::Quarry => "砂石料场",
            Self::Cement => "水泥厂",
            Self::LogisticsYard => "物流园区",
            Self::Other => "其他",
        }
    }

    /// Chinese terms accepted by [`FromStr`] besides [`SourceUnitKind::chinese_name`].
    const fn chinese_aliases(self) -> &'static [&'static str] {
        match self {
            Self::CoalMine => &["煤矿企业"],
            Self::Ceramics => &["陶瓷", "陶瓷厂"],
            Self::Quarry => &["砂石料场/矿山", "砂石场", "矿山", "非煤矿山"],
            Self::Cement => &["水泥", "水泥企业"],
            Self::LogisticsYard => &["物流园区/货运站场", "物流园", "货运站场", "货运站"],
            Self::Other => &["其它"],
        }
    }
}

impl FromStr for SourceUnitKind {
    type Err = ParseSourceUnitKindError;

    /// Accepts the snake_case English name (any ASCII case) or a Chinese term, with
    /// surrounding whitespace.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let input = s.trim();
        Self::ALL
            .into_iter()
            .find(|kind| {
                input.eq_ignore_ascii_case(kind.as_str())
                    || input == kind.chinese_name()
                    || kind.chinese_aliases().contains(&input)
            })
            .ok_or_else(|| ParseSourceUnitKindError {
                input: input.to_owned(),
            })
    }
}

impl fmt::Display for SourceUnitKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The authority that supervises a source unit (监管主体), per the county plan
/// 阳政办发〔2024〕42号.
///
/// Serde is tagged: `{"kind":"emergency_management_bureau"}`, `{"kind":"development_zone"}`,
/// `{"kind":"township","code":"140522100"}`, `{"kind":"county_office"}`. Display is Chinese
/// for people: 应急管理局, 开发区, 乡镇（140522100）, 县治超办.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", content = "code", rename_all = "snake_case")]
pub enum Jurisdiction {
    /// The county emergency management bureau (应急管理局): supervises coal mines.
    EmergencyManagementBureau,
    /// The development zone administration (开发区): supervises ceramics plants.
    DevelopmentZone,
    /// A township (乡镇), by its township code: supervises every other listed unit in it.
    Township(AdminCode),
    /// The county overload office (县治超办): oversees every source unit.
    CountyOffice,
}

impl Jurisdiction {
    /// The Chinese name without the code: 应急管理局, 开发区, 乡镇, 县治超办.
    pub const fn chinese_name(&self) -> &'static str {
        match self {
            Self::EmergencyManagementBureau => "应急管理局",
            Self::DevelopmentZone => "开发区",
            Self::Township(_) => "乡镇",
            Self::CountyOffice => "县治超办",
        }
    }
}

impl fmt::Display for Jurisdiction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Township(code) => write!(f, "{}（{code}）", self.chinese_name()),
            _ => f.write_str(self.chinese_name()),
        }
    }
}

/// The authority that supervises a source unit of `kind` located in `township`, per the
/// county plan 阳政办发〔2024〕42号: coal mines (煤矿) → 应急管理局, ceramics plants (陶瓷企业)
/// → 开发区, every other listed unit → its township (乡镇).
///
/// `township` should be a township-level code; a village-level or 12-digit code is reduced
/// to its 9-digit township code, and a code of a higher level is used as given (use
/// [`SourceUnitLocation`] to have the location checked).
pub fn route(kind: SourceUnitKind, township: &AdminCode) -> Jurisdiction {
    match kind {
        SourceUnitKind::CoalMine => Jurisdiction::EmergencyManagementBureau,
        SourceUnitKind::Ceramics => Jurisdiction::DevelopmentZone,
        SourceUnitKind::Quarry
        | SourceUnitKind::Cement
        | SourceUnitKind::LogisticsYard
        | SourceUnitKind::Other => Jurisdiction::Township(township.township().unwrap_or(*township)),
    }
}

/// Who receives an over-limit departure (超限出场) alert from a source unit of `kind` in
/// `township`: the supervising authority from [`route`], then the county overload office
/// (县治超办), which sees every alert (county plan 阳政办发〔2024〕42号).
pub fn alert_recipients(kind: SourceUnitKind, township: &AdminCode) -> [Jurisdiction; 2] {
    [route(kind, township), Jurisdiction::CountyOffice]
}

/// Why a county and a township do not make a [`SourceUnitLocation`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LocationError {
    /// The county code is not of county level.
    #[error("{code} is not a county-level code")]
    NotCounty {
        /// The code given as county.
        code: AdminCode,
    },
    /// The township code is not of township level.
    #[error("{code} is not a township-level code")]
    NotTownship {
        /// The code given as township.
        code: AdminCode,
    },
    /// The township does not lie within the county.
    #[error("township {township} is not within county {county}")]
    OutsideCounty {
        /// The township code.
        township: AdminCode,
        /// The county code.
        county: AdminCode,
    },
}

/// Where a source unit lies: a county-level code (6 digits) and a township code (9 digits)
/// within it. Checked on construction and on deserialisation.
///
/// Serde: `{"county":"140522","township":"140522100"}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "RawLocation")]
pub struct SourceUnitLocation {
    county: AdminCode,
    township: AdminCode,
}

/// Unchecked form of [`SourceUnitLocation`], for deserialisation.
#[derive(Deserialize)]
struct RawLocation {
    county: AdminCode,
    township: AdminCode,
}

impl TryFrom<RawLocation> for SourceUnitLocation {
    type Error = LocationError;

    fn try_from(raw: RawLocation) -> Result<Self, Self::Error> {
        Self::new(raw.county, raw.township)
    }
}

impl SourceUnitLocation {
    /// Checks that `county` is county-level, `township` township-level and within it.
    /// Codes are stored in their short forms (6 and 9 digits).
    ///
    /// # Errors
    ///
    /// [`LocationError::NotCounty`], [`LocationError::NotTownship`] or
    /// [`LocationError::OutsideCounty`].
    pub fn new(county: AdminCode, township: AdminCode) -> Result<Self, LocationError> {
        if county.level() != AdminLevel::County {
            return Err(LocationError::NotCounty { code: county });
        }
        if township.level() != AdminLevel::Township {
            return Err(LocationError::NotTownship { code: township });
        }
        if !township.is_within(&county) {
            return Err(LocationError::OutsideCounty { township, county });
        }
        Ok(Self {
            county: county.truncated(6),
            township: township.truncated(9),
        })
    }

    /// The county-level code (6 digits).
    pub fn county(&self) -> AdminCode {
        self.county
    }

    /// The township code (9 digits).
    pub fn township(&self) -> AdminCode {
        self.township
    }

    /// [`route`] for a unit of `kind` at this location.
    pub fn route(&self, kind: SourceUnitKind) -> Jurisdiction {
        route(kind, &self.township)
    }

    /// [`alert_recipients`] for a unit of `kind` at this location.
    pub fn alert_recipients(&self, kind: SourceUnitKind) -> [Jurisdiction; 2] {
        alert_recipients(kind, &self.township)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn code(s: &str) -> AdminCode {
        AdminCode::parse(s).unwrap()
    }

    #[test]
    fn constants_match_their_digits() {
        assert_eq!(JINCHENG_CITY, code("140500"));
        assert_eq!(YANGCHENG_COUNTY, code("140522"));
        assert_eq!(JINCHENG_CITY.to_string(), "140500");
        assert_eq!(YANGCHENG_COUNTY.to_string(), "140522");
        assert_eq!(JINCHENG_CITY.level(), AdminLevel::Prefecture);
        assert_eq!(YANGCHENG_COUNTY.level(), AdminLevel::County);
        assert!(YANGCHENG_COUNTY.is_within(&JINCHENG_CITY));
    }

    #[test]
    fn levels() {
        for (s, level) in [
            ("140000", AdminLevel::Province),
            ("140500", AdminLevel::Prefecture),
            ("140522", AdminLevel::County),
            ("140522100", AdminLevel::Township),
            ("140522100000", AdminLevel::Township),
            ("140522100201", AdminLevel::Village),
            // Trailing zero groups denote the enclosing unit.
            ("140522000000", AdminLevel::County),
            ("140522000", AdminLevel::County),
            ("140000000000", AdminLevel::Province),
        ] {
            assert_eq!(code(s).level(), level, "{s}");
        }
    }

    #[test]
    fn county_and_township_parts() {
        assert_eq!(code("140000").county(), None);
        assert_eq!(code("140500").county(), None);
        assert_eq!(code("140522").county(), Some(YANGCHENG_COUNTY));
        assert_eq!(code("140522000000").county(), Some(YANGCHENG_COUNTY));
        assert_eq!(code("140522100").county(), Some(YANGCHENG_COUNTY));
        assert_eq!(code("140522100201").county(), Some(YANGCHENG_COUNTY));
        assert_eq!(code("140522").township(), None);
        assert_eq!(code("140522100").township(), Some(code("140522100")));
        assert_eq!(code("140522100000").township(), Some(code("140522100")));
        assert_eq!(code("140522100201").township(), Some(code("140522100")));
        assert_eq!(code("140522100201").county().unwrap().digit_count(), 6);
    }

    #[test]
    fn containment() {
        let chain = ["140522100201", "140522100", "140522", "140500", "140000"];
        for (i, inner) in chain.iter().enumerate() {
            for (j, outer) in chain.iter().enumerate() {
                assert_eq!(
                    code(inner).is_within(&code(outer)),
                    i <= j,
                    "{inner} in {outer}"
                );
            }
        }
        assert!(!code("140522").is_within(&code("140521")));
        assert!(!code("140522100").is_within(&code("140521")));
        assert!(!code("140522100").is_within(&code("140522101")));
        assert!(!code("140522").is_within(&code("150000")));
        assert!(!code("140522").is_within(&code("140600")));
        assert!(code("140522").is_within(&code("140522000000")));
        assert!(code("140522000000").is_within(&code("140522")));
    }

    #[test]
    fn invalid_codes_are_typed_errors() {
        assert_eq!(AdminCode::parse(""), Err(AdminCodeError::Empty));
        assert_eq!(AdminCode::parse("  "), Err(AdminCodeError::Empty));
        assert_eq!(
            AdminCode::parse("14O522"),
            Err(AdminCodeError::NotADigit {
                ch: 'O',
                position: 3
            })
        );
        assert_eq!(
            AdminCode::parse("阳城县"),
            Err(AdminCodeError::NotADigit {
                ch: '阳',
                position: 1
            })
        );
        assert_eq!(
            AdminCode::parse("140 522"),
            Err(AdminCodeError::NotADigit {
                ch: ' ',
                position: 4
            })
        );
        assert_eq!(
            AdminCode::parse("-140522"),
            Err(AdminCodeError::NotADigit {
                ch: '-',
                position: 1
            })
        );
        for (s, got) in [
            ("14", 2),
            ("14052", 5),
            ("1405221", 7),
            ("1405221000", 10),
            ("1405221002010", 13),
            ("1405221002011405221002011405221002011234", 40),
        ] {
            assert_eq!(
                AdminCode::parse(s),
                Err(AdminCodeError::WrongLength { got }),
                "{s}"
            );
        }
        assert_eq!(
            AdminCode::parse("000000"),
            Err(AdminCodeError::ZeroProvince)
        );
        assert_eq!(
            AdminCode::parse("001234567"),
            Err(AdminCodeError::ZeroProvince)
        );
    }

    #[test]
    fn input_is_normalised() {
        assert_eq!(code(" 140522\n"), YANGCHENG_COUNTY);
        assert_eq!(code("１４０５２２"), YANGCHENG_COUNTY);
    }

    #[test]
    fn error_messages() {
        assert_eq!(
            AdminCodeError::WrongLength { got: 5 }.to_string(),
            "wrong length: expected 6, 9 or 12 digits, got 5"
        );
        assert_eq!(
            AdminCodeError::NotADigit {
                ch: 'x',
                position: 2
            }
            .to_string(),
            "invalid character 'x' at position 2: expected a digit"
        );
        assert_eq!(
            LocationError::OutsideCounty {
                township: code("140521100"),
                county: YANGCHENG_COUNTY
            }
            .to_string(),
            "township 140521100 is not within county 140522"
        );
    }

    #[test]
    fn ordering_is_that_of_the_digit_strings() {
        let mut codes: Vec<AdminCode> = ["140522100", "140600", "140522", "140522000000", "140500"]
            .into_iter()
            .map(code)
            .collect();
        codes.sort();
        let sorted: Vec<String> = codes.iter().map(ToString::to_string).collect();
        let mut expected = sorted.clone();
        expected.sort();
        assert_eq!(sorted, expected);
    }

    #[test]
    fn admin_code_serde() {
        let c = code("140522100");
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(json, "\"140522100\"");
        assert_eq!(serde_json::from_str::<AdminCode>(&json).unwrap(), c);
        assert!(serde_json::from_str::<AdminCode>("\"14052\"").is_err());
        assert!(serde_json::from_str::<AdminCode>("140522").is_err());
        assert_eq!(
            serde_json::to_string(&AdminLevel::Prefecture).unwrap(),
            "\"prefecture\""
        );
    }

    #[test]
    fn routing_for_every_kind() {
        let township = code("140522100");
        for kind in SourceUnitKind::ALL {
            let expected = match kind {
                SourceUnitKind::CoalMine => Jurisdiction::EmergencyManagementBureau,
                SourceUnitKind::Ceramics => Jurisdiction::DevelopmentZone,
                SourceUnitKind::Quarry
                | SourceUnitKind::Cement
                | SourceUnitKind::LogisticsYard
                | SourceUnitKind::Other => Jurisdiction::Township(township),
            };
            assert_eq!(route(kind, &township), expected, "{kind}");
            assert_eq!(
                alert_recipients(kind, &township),
                [expected, Jurisdiction::CountyOffice],
                "{kind}"
            );
        }
    }

    #[test]
    fn routing_uses_the_township_part() {
        assert_eq!(
            route(SourceUnitKind::Quarry, &code("140522100201")),
            Jurisdiction::Township(code("140522100"))
        );
        assert_eq!(
            route(SourceUnitKind::Cement, &code("140522100000")),
            Jurisdiction::Township(code("140522100"))
        );
        // A code above township level is kept as given.
        assert_eq!(
            route(SourceUnitKind::Cement, &YANGCHENG_COUNTY),
            Jurisdiction::Township(YANGCHENG_COUNTY)
        );
    }

    #[test]
    fn source_unit_kind_names() {
        for kind in SourceUnitKind::ALL {
            assert_eq!(kind.as_str().parse::<SourceUnitKind>(), Ok(kind));
            assert_eq!(kind.chinese_name().parse::<SourceUnitKind>(), Ok(kind));
            assert_eq!(kind.to_string(), kind.as_str());
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
            assert_eq!(serde_json::from_str::<SourceUnitKind>(&json).unwrap(), kind);
        }
        for (s, kind) in [
            (" 煤矿 ", SourceUnitKind::CoalMine),
            ("陶瓷企业", SourceUnitKind::Ceramics),
            ("矿山", SourceUnitKind::Quarry),
            ("砂石料场", SourceUnitKind::Quarry),
            ("水泥厂", SourceUnitKind::Cement),
            ("货运站场", SourceUnitKind::LogisticsYard),
            ("物流园区", SourceUnitKind::LogisticsYard),
            ("Coal_Mine", SourceUnitKind::CoalMine),
            ("LOGISTICS_YARD", SourceUnitKind::LogisticsYard),
        ] {
            assert_eq!(s.parse::<SourceUnitKind>(), Ok(kind), "{s}");
        }
        let err = "coal mine".parse::<SourceUnitKind>().unwrap_err();
        assert_eq!(err.to_string(), "unknown source unit kind \"coal mine\"");
        assert!("".parse::<SourceUnitKind>().is_err());
        assert!(serde_json::from_str::<SourceUnitKind>("\"煤矿\"").is_err());
    }

    #[test]
    fn jurisdiction_serde_and_display() {
        let cases = [
            (
                Jurisdiction::EmergencyManagementBureau,
                r#"{"kind":"emergency_management_bureau"}"#,
                "应急管理局",
            ),
            (
                Jurisdiction::DevelopmentZone,
                r#"{"kind":"development_zone"}"#,
                "开发区",
            ),
            (
                Jurisdiction::Township(code("140522100")),
                r#"{"kind":"township","code":"140522100"}"#,
                "乡镇（140522100）",
            ),
            (
                Jurisdiction::CountyOffice,
                r#"{"kind":"county_office"}"#,
                "县治超办",
            ),
        ];
        for (jurisdiction, json, display) in cases {
            assert_eq!(serde_json::to_string(&jurisdiction).unwrap(), json);
            assert_eq!(
                serde_json::from_str::<Jurisdiction>(json).unwrap(),
                jurisdiction
            );
            assert_eq!(jurisdiction.to_string(), display);
        }
        assert!(
            serde_json::from_str::<Jurisdiction>(r#"{"kind":"township","code":"14052"}"#).is_err()
        );
        assert!(serde_json::from_str::<Jurisdiction>(r#"{"kind":"township"}"#).is_err());
        assert!(serde_json::from_str::<Jurisdiction>(r#"{"kind":"police"}"#).is_err());
    }

    #[test]
    fn source_unit_location() {
        let location = SourceUnitLocation::new(YANGCHENG_COUNTY, code("140522100000")).unwrap();
        assert_eq!(location.county(), YANGCHENG_COUNTY);
        assert_eq!(location.township(), code("140522100"));
        assert_eq!(
            location.route(SourceUnitKind::Quarry),
            Jurisdiction::Township(code("140522100"))
        );
        assert_eq!(
            location.alert_recipients(SourceUnitKind::CoalMine),
            [
                Jurisdiction::EmergencyManagementBureau,
                Jurisdiction::CountyOffice
            ]
        );
        assert_eq!(
            SourceUnitLocation::new(JINCHENG_CITY, code("140522100")),
            Err(LocationError::NotCounty {
                code: JINCHENG_CITY
            })
        );
        assert_eq!(
            SourceUnitLocation::new(YANGCHENG_COUNTY, code("140522100201")),
            Err(LocationError::NotTownship {
                code: code("140522100201")
            })
        );
        assert_eq!(
            SourceUnitLocation::new(YANGCHENG_COUNTY, code("140521100")),
            Err(LocationError::OutsideCounty {
                township: code("140521100"),
                county: YANGCHENG_COUNTY
            })
        );

        let json = serde_json::to_string(&location).unwrap();
        assert_eq!(json, r#"{"county":"140522","township":"140522100"}"#);
        assert_eq!(
            serde_json::from_str::<SourceUnitLocation>(&json).unwrap(),
            location
        );
        assert!(
            serde_json::from_str::<SourceUnitLocation>(
                r#"{"county":"140522","township":"140521100"}"#
            )
            .is_err()
        );
    }

    #[test]
    fn a_village_code_without_township_digits_has_no_township() {
        let c = AdminCode::parse("100000000001").unwrap();
        assert_eq!(c.level(), AdminLevel::Village);
        assert_eq!(c.township(), None);
    }

    fn valid_code() -> impl Strategy<Value = String> {
        prop_oneof!["[1-9][0-9]{5}", "[1-9][0-9]{8}", "[1-9][0-9]{11}",]
    }

    proptest! {
        #[test]
        fn valid_codes_round_trip(s in valid_code()) {
            let c = AdminCode::parse(&s).unwrap();
            prop_assert_eq!(c.to_string(), s.as_str());
            prop_assert_eq!(c.digit_count(), s.len());
            prop_assert!(c.is_within(&c));
            let json = serde_json::to_string(&c).unwrap();
            prop_assert_eq!(serde_json::from_str::<AdminCode>(&json).unwrap(), c);
            if let Some(county) = c.county() {
                prop_assert!(c.is_within(&county));
                prop_assert_eq!(county.digit_count(), 6);
            }
            if let Some(township) = c.township() {
                prop_assert!(c.is_within(&township));
                prop_assert_eq!(township.level(), AdminLevel::Township);
            }
        }

        #[test]
        fn containment_is_prefix_of_significant_digits(a in valid_code(), b in valid_code()) {
            let (ca, cb) = (code(&a), code(&b));
            let n = cb.level().significant_digits();
            let pad = |s: &str| format!("{s:0<12}");
            prop_assert_eq!(ca.is_within(&cb), pad(&a)[..n] == pad(&b)[..n]);
        }

        #[test]
        fn arbitrary_strings_never_panic(s in any::<String>()) {
            let _ = AdminCode::parse(&s);
            let _ = s.parse::<SourceUnitKind>();
        }

        #[test]
        fn digit_like_strings_never_panic(s in "[0-9０-９ a]{0,30}") {
            if let Ok(c) = AdminCode::parse(&s) {
                let _ = (c.level(), c.county(), c.township(), c.to_string());
            }
        }
    }
}
