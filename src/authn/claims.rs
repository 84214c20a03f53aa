//! [`Claims`]: the verified claims of a bearer JWT or an OIDC ID token.

use serde_json::{Map, Value};

use super::AuthnError;

/// Verified claims. `exp` is Unix seconds.
#[derive(Debug, Clone, PartialEq)]
pub struct Claims {
    pub map: Map<String, Value>,
    pub exp: i64,
}

impl Claims {
    /// Wraps a claim set, which must carry a numeric `exp`.
    pub fn from_map(map: Map<String, Value>) -> Result<Self, AuthnError> {
        let exp = numeric(&map, "exp")?.ok_or(AuthnError::BadToken("no exp claim"))?;
        Ok(Self { map, exp })
    }

    /// A claim's value when it is a string.
    pub fn get_str(&self, name: &str) -> Option<&str> {
        self.map.get(name).and_then(Value::as_str)
    }

    /// The `sub` claim.
    pub fn subject(&self) -> Option<&str> {
        self.get_str("sub")
    }

    /// The `auth_time` claim (Unix seconds): when the user last authenticated at the
    /// provider. `None` when absent or not a number.
    pub fn auth_time(&self) -> Option<i64> {
        numeric(&self.map, "auth_time").ok().flatten()
    }

    /// The `acr` claim: the authentication context class the provider reports.
    pub fn acr(&self) -> Option<&str> {
        self.get_str("acr")
    }

    /// The `nbf` claim (Unix seconds), when present.
    pub fn not_before(&self) -> Result<Option<i64>, AuthnError> {
        numeric(&self.map, "nbf")
    }
}

/// A NumericDate claim: an integer, or a number with a fraction (rounded down).
fn numeric(map: &Map<String, Value>, name: &'static str) -> Result<Option<i64>, AuthnError> {
    match map.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| {
                n.as_f64()
                    .filter(|f| f.is_finite() && f.abs() < 1e15)
                    .map(|f| f.floor() as i64)
            })
            .map(Some)
            .ok_or(AuthnError::BadToken("a time claim is out of range")),
        Some(_) => Err(AuthnError::BadToken("a time claim is not a number")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    #[test]
    fn reads_exp_and_string_claims() {
        let c = Claims::from_map(map(json!({"exp": 100, "sub": "a", "n": 3}))).unwrap();
        assert_eq!(c.exp, 100);
        assert_eq!(c.subject(), Some("a"));
        assert_eq!(c.get_str("n"), None);
        let c = Claims::from_map(map(json!({"exp": 100.7, "nbf": 5}))).unwrap();
        assert_eq!(c.exp, 100);
        assert_eq!(c.not_before().unwrap(), Some(5));
    }

    #[test]
    fn refuses_missing_or_odd_exp() {
        assert!(matches!(
            Claims::from_map(map(json!({"sub": "a"}))),
            Err(AuthnError::BadToken(_))
        ));
        assert!(matches!(
            Claims::from_map(map(json!({"exp": "100"}))),
            Err(AuthnError::BadToken(_))
        ));
    }
}
