//! The columns a small SQL snippet reads: a metric's `expr` and `filter`, a dimension's
//! expression. Conservative by design: string literals, comments, numbers, function names,
//! type names, keywords and table qualifiers are skipped, and [`referenced_columns`] keeps only
//! names that are known columns of the model, so a word that merely looks like a column never
//! becomes a lineage edge.

use std::collections::BTreeSet;

/// Words that are SQL syntax or type names, never columns here.
const KEYWORDS: &[&str] = &[
    "all",
    "and",
    "any",
    "array",
    "as",
    "asc",
    "between",
    "bigint",
    "boolean",
    "by",
    "case",
    "cast",
    "char",
    "date",
    "decimal",
    "desc",
    "distinct",
    "double",
    "else",
    "end",
    "escape",
    "exists",
    "false",
    "filter",
    "float",
    "from",
    "group",
    "having",
    "ilike",
    "in",
    "int",
    "integer",
    "interval",
    "is",
    "like",
    "not",
    "null",
    "nulls",
    "numeric",
    "or",
    "order",
    "over",
    "partition",
    "precision",
    "real",
    "select",
    "similar",
    "smallint",
    "some",
    "then",
    "time",
    "timestamp",
    "tinyint",
    "true",
    "try_cast",
    "unknown",
    "varchar",
    "text",
    "when",
    "where",
    "within",
    "string",
    "first",
    "last",
    "day",
    "hour",
    "minute",
    "month",
    "second",
    "week",
    "year",
];

fn is_keyword(word: &str) -> bool {
    KEYWORDS.contains(&word)
}

fn is_ident_start(c: char) -> bool {
    c.is_alphabetic() || c == '_'
}

fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '$'
}

/// The unqualified identifiers a snippet reads, lower-cased unless written in double quotes,
/// in order of first appearance, each once.
pub fn identifiers(sql: &str) -> Vec<String> {
    let chars: Vec<char> = sql.chars().collect();
    let n = chars.len();
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    // The previous significant token, to skip `::type` casts.
    let mut after_cast_operator = false;
    while i < n {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        // Comments.
        if c == '-' && chars.get(i + 1) == Some(&'-') {
            while i < n && chars[i] != '\n' {
                i += 1;
            }
            continue;
        }
        if c == '/' && chars.get(i + 1) == Some(&'*') {
            i += 2;
            while i < n && !(chars[i] == '*' && chars.get(i + 1) == Some(&'/')) {
                i += 1;
            }
            i = (i + 2).min(n);
            continue;
        }
        // String literals, with '' as an escaped quote.
        if c == '\'' {
            i = skip_quoted(&chars, i, '\'').0;
            after_cast_operator = false;
            continue;
        }
        if c == ':' && chars.get(i + 1) == Some(&':') {
            i += 2;
            after_cast_operator = true;
            continue;
        }
        if c.is_ascii_digit() {
            while i < n && (chars[i].is_alphanumeric() || chars[i] == '.' || chars[i] == '_') {
                i += 1;
            }
            after_cast_operator = false;
            continue;
        }
        let (word, quoted, next) = if c == '"' {
            let (end, closed) = skip_quoted(&chars, i, '"');
            let inner_end = if closed { end - 1 } else { end };
            let inner: String = chars[i + 1..inner_end].iter().collect();
            (inner.replace("\"\"", "\""), true, end)
        } else if is_ident_start(c) {
            let mut j = i;
            while j < n && is_ident_char(chars[j]) {
                j += 1;
            }
            // Character by character, so a word folds the same wherever it stands.
            let w: String = chars[i..j].iter().flat_map(|c| c.to_lowercase()).collect();
            (w, false, j)
        } else {
            i += 1;
            after_cast_operator = false;
            continue;
        };
        i = next;
        let was_cast = std::mem::take(&mut after_cast_operator);
        // What follows decides: `f(` is a function, `t.` a qualifier, `date '…'` a typed literal.
        let mut k = i;
        while k < n && chars[k].is_whitespace() {
            k += 1;
        }
        let follower = chars.get(k).copied();
        if follower == Some('(') || follower == Some('.') || was_cast || word.is_empty() {
            continue;
        }
        if !quoted && (is_keyword(&word) || follower == Some('\'')) {
            continue;
        }
        if !out.contains(&word) {
            out.push(word);
        }
    }
    out
}

/// Index just past the closing quote of a quoted token starting at `start` (doubled quotes are
/// escapes) and whether it was closed; the end of input when it is not.
fn skip_quoted(chars: &[char], start: usize, quote: char) -> (usize, bool) {
    let mut i = start + 1;
    while i < chars.len() {
        if chars[i] == quote {
            if chars.get(i + 1) == Some(&quote) {
                i += 2;
                continue;
            }
            return (i + 1, true);
        }
        i += 1;
    }
    (chars.len(), false)
}

/// The identifiers of `sql` that are among `known` columns, in order of first appearance.
pub fn referenced_columns(sql: &str, known: &BTreeSet<String>) -> Vec<String> {
    identifiers(sql)
        .into_iter()
        .filter(|w| known.contains(w))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skips_strings_functions_types_and_qualifiers() {
        assert_eq!(
            identifiers("to_char(cast(order_date as timestamp), '%u %a')"),
            vec!["order_date"]
        );
        assert_eq!(
            identifiers("status = 'delivered' and on_time"),
            vec!["status", "on_time"]
        );
        assert_eq!(
            identifiers("gmv_cents / 100.0 + o.fee::bigint -- cents\n"),
            vec!["gmv_cents", "fee"]
        );
        assert_eq!(
            identifiers("\"Mixed Case\" > date '2024-01-01' /* x_y */"),
            vec!["Mixed Case"]
        );
        assert_eq!(identifiers("'it''s' || name"), vec!["name"]);
    }
}
