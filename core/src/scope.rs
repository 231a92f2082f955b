//! [`Scope`]: the part of a county a document belongs to, which decides who may read it.
//!
//! Every document header carries a scope. A supervisor of a township reads what is scoped to
//! that township; the emergency management bureau what is scoped to it (coal mines); the county
//! overload office everything in the county. A roadside case with no source unit is scoped to
//! the county itself.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::jurisdiction::{AdminCode, AdminCodeError, AdminLevel, Jurisdiction};

/// A county department taking part in overload control (治超成员单位).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Department {
    /// 交通运输局: the transport authority (inspectors, 交通运输执法).
    Transport,
    /// 公安交警: traffic police (they alone fine 超载 and give licence points).
    TrafficPolice,
    /// 应急管理局: emergency management bureau, supervises coal mines.
    EmergencyManagement,
    /// 开发区: the development zone administration, supervises ceramics plants.
    DevelopmentZone,
    /// 县治超办: the county overload-control office, which sees the whole county.
    CountyOffice,
}

impl Department {
    /// Every department.
    pub const ALL: [Department; 5] = [
        Department::Transport,
        Department::TrafficPolice,
        Department::EmergencyManagement,
        Department::DevelopmentZone,
        Department::CountyOffice,
    ];

    /// The stable code used in scopes and tokens: `transport`, `traffic_police`,
    /// `emergency_management`, `development_zone`, `county_office`.
    pub const fn code(self) -> &'static str {
        match self {
            Department::Transport => "transport",
            Department::TrafficPolice => "traffic_police",
            Department::EmergencyManagement => "emergency_management",
            Department::DevelopmentZone => "development_zone",
            Department::CountyOffice => "county_office",
        }
    }

    /// The Chinese name.
    pub const fn chinese_name(self) -> &'static str {
        match self {
            Department::Transport => "交通运输局",
            Department::TrafficPolice => "公安交警",
            Department::EmergencyManagement => "应急管理局",
            Department::DevelopmentZone => "开发区",
            Department::CountyOffice => "县治超办",
        }
    }

    /// The department for a code, see [`Department::code`].
    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|d| d.code() == code)
    }
}

/// Where within the county a scope lies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ScopePart {
    /// A township (乡镇), by its 9-digit code.
    Township(AdminCode),
    /// A department.
    Department(Department),
}

/// A county plus, optionally, one township or department of it. Text form:
/// `140522`, `140522/township/140522100`, `140522/dept/emergency_management`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Scope {
    county: AdminCode,
    part: Option<ScopePart>,
}

/// Why a text or a pair of codes is not a scope.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ScopeError {
    /// An administrative code is malformed.
    #[error(transparent)]
    Code(#[from] AdminCodeError),
    /// The first code is not a county-level code.
    #[error("{0} is not a county code")]
    NotCounty(AdminCode),
    /// The township code is not township level or lies outside the county.
    #[error("{township} is not a township of county {county}")]
    NotTownshipOf {
        /// The township code given.
        township: AdminCode,
        /// The county.
        county: AdminCode,
    },
    /// Unknown department code.
    #[error("unknown department {0:?}")]
    Department(String),
    /// Not `COUNTY[/township/CODE|/dept/NAME]`.
    #[error("scope {0:?} is not COUNTY, COUNTY/township/CODE or COUNTY/dept/NAME")]
    Shape(String),
}

impl Scope {
    /// The whole county.
    ///
    /// # Errors
    /// [`ScopeError::NotCounty`] when `county` is not county level.
    pub fn county(county: AdminCode) -> Result<Self, ScopeError> {
        if county.level() != AdminLevel::County {
            return Err(ScopeError::NotCounty(county));
        }
        Ok(Scope { county, part: None })
    }

    /// A township of the county.
    ///
    /// # Errors
    /// [`ScopeError`] when the codes are not a county and one of its townships.
    pub fn township(county: AdminCode, township: AdminCode) -> Result<Self, ScopeError> {
        let scope = Self::county(county)?;
        if township.level() != AdminLevel::Township || !township.is_within(&county) {
            return Err(ScopeError::NotTownshipOf { township, county });
        }
        Ok(Scope {
            part: Some(ScopePart::Township(township)),
            ..scope
        })
    }

    /// A department of the county.
    ///
    /// # Errors
    /// [`ScopeError::NotCounty`].
    pub fn department(county: AdminCode, department: Department) -> Result<Self, ScopeError> {
        let scope = Self::county(county)?;
        Ok(Scope {
            part: Some(ScopePart::Department(department)),
            ..scope
        })
    }

    /// The scope of what a jurisdiction supervises in `county` (see
    /// [`crate::jurisdiction::route`]): the county office has the whole county.
    ///
    /// # Errors
    /// As [`Scope::township`] / [`Scope::department`].
    pub fn of_jurisdiction(county: AdminCode, j: &Jurisdiction) -> Result<Self, ScopeError> {
        match j {
            Jurisdiction::EmergencyManagementBureau => {
                Self::department(county, Department::EmergencyManagement)
            }
            Jurisdiction::DevelopmentZone => Self::department(county, Department::DevelopmentZone),
            Jurisdiction::Township(code) => Self::township(county, *code),
            Jurisdiction::CountyOffice => Self::county(county),
        }
    }

    /// The county code.
    pub fn county_code(&self) -> AdminCode {
        self.county
    }

    /// The township or department, `None` for the whole county.
    pub fn part(&self) -> Option<ScopePart> {
        self.part
    }

    /// True when everything in `other` is also in `self`: a county scope contains every scope
    /// of that county; a township or department scope contains only itself.
    pub fn contains(&self, other: &Scope) -> bool {
        self.county == other.county && (self.part.is_none() || self.part == other.part)
    }

    /// Parses the text form.
    ///
    /// # Errors
    /// [`ScopeError`] naming what is wrong.
    pub fn parse(text: &str) -> Result<Self, ScopeError> {
        let mut parts = text.trim().split('/');
        let county = AdminCode::parse(parts.next().unwrap_or_default())?;
        match (parts.next(), parts.next(), parts.next()) {
            (None, _, _) => Self::county(county),
            (Some("township"), Some(code), None) => Self::township(county, AdminCode::parse(code)?),
            (Some("dept"), Some(code), None) => Self::department(
                county,
                Department::from_code(code)
                    .ok_or_else(|| ScopeError::Department(code.to_owned()))?,
            ),
            _ => Err(ScopeError::Shape(text.to_owned())),
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.part {
            None => write!(f, "{}", self.county),
            Some(ScopePart::Township(t)) => write!(f, "{}/township/{t}", self.county),
            Some(ScopePart::Department(d)) => write!(f, "{}/dept/{}", self.county, d.code()),
        }
    }
}

impl FromStr for Scope {
    type Err = ScopeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for Scope {
    type Error = ScopeError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<Scope> for String {
    fn from(s: Scope) -> Self {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jurisdiction::YANGCHENG_COUNTY;

    fn code(s: &str) -> AdminCode {
        AdminCode::parse(s).unwrap()
    }

    #[test]
    fn text_forms_round_trip() {
        for text in [
            "140522",
            "140522/township/140522100",
            "140522/dept/emergency_management",
            "140522/dept/county_office",
        ] {
            let scope = Scope::parse(text).unwrap();
            assert_eq!(scope.to_string(), text);
            let json = serde_json::to_string(&scope).unwrap();
            assert_eq!(serde_json::from_str::<Scope>(&json).unwrap(), scope);
        }
    }

    #[test]
    fn rejects_what_is_not_a_scope() {
        for bad in [
            "",
            "140500",
            "140522/township/140521100",
            "140522/township/140522",
            "140522/dept/police",
            "140522/dept",
            "140522/x/y",
            "140522/township/140522100/extra",
        ] {
            assert!(Scope::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn county_contains_its_parts_only() {
        let county = Scope::county(YANGCHENG_COUNTY).unwrap();
        let town = Scope::township(YANGCHENG_COUNTY, code("140522100")).unwrap();
        let other_town = Scope::township(YANGCHENG_COUNTY, code("140522101")).unwrap();
        let coal =
            Scope::of_jurisdiction(YANGCHENG_COUNTY, &Jurisdiction::EmergencyManagementBureau)
                .unwrap();
        assert!(county.contains(&town) && county.contains(&coal) && county.contains(&county));
        assert!(!town.contains(&county));
        assert!(!town.contains(&other_town));
        assert!(!coal.contains(&town));
        let elsewhere = Scope::county(code("140521")).unwrap();
        assert!(!county.contains(&elsewhere));
        assert_eq!(
            Scope::of_jurisdiction(YANGCHENG_COUNTY, &Jurisdiction::CountyOffice).unwrap(),
            county
        );
    }
}
