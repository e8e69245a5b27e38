//! Writing SQL text safely: identifiers quoted, values as literals.

use serde_json::Value;

/// `"name"`, with embedded quotes doubled.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A JSON value (a GE parameter) as a SQL literal.
pub fn sql_literal(value: &Value) -> String {
    match value {
        Value::Null => "NULL".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => {
            if n.is_f64() {
                // Keep a decimal point so that integer columns compare as numbers, not truncate.
                let f = n.as_f64().unwrap_or(0.0);
                if f.is_finite() {
                    format!("{f:?}")
                } else {
                    "NULL".to_string()
                }
            } else {
                n.to_string()
            }
        }
        Value::String(s) => format!("'{}'", s.replace('\'', "''")),
        other => format!("'{}'", other.to_string().replace('\'', "''")),
    }
}

/// A condition that is false, not null, when the expression is null.
pub fn is_true(expr: &str) -> String {
    format!("COALESCE(({expr}), false)")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn literals_and_identifiers() {
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(sql_literal(&json!("it's")), "'it''s'");
        assert_eq!(sql_literal(&json!(3)), "3");
        assert_eq!(sql_literal(&json!(2.5)), "2.5");
        assert_eq!(sql_literal(&json!(2.0)), "2.0");
        assert_eq!(sql_literal(&json!(null)), "NULL");
        assert_eq!(sql_literal(&json!(true)), "true");
    }
}
