//! Maven order: `org.apache.maven.artifact.versioning.ComparableVersion` (items split at
//! `.`, `-` and digit/letter transitions into nested lists, trailing null items trimmed,
//! qualifiers `alpha < beta < milestone < rc = cr < snapshot < "" = ga = final = release < sp`,
//! unknown qualifiers after them in alphabetical order).

use std::cmp::Ordering;

use super::VersionError;
use super::num::cmp_digits;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Item {
    Int(String),
    Str(String),
    List(Vec<Item>),
}

const QUALIFIERS: [&str; 7] = ["alpha", "beta", "milestone", "rc", "snapshot", "", "sp"];

fn comparable_qualifier(q: &str) -> String {
    match QUALIFIERS.iter().position(|x| *x == q) {
        Some(i) => i.to_string(),
        None => format!("{}-{q}", QUALIFIERS.len()),
    }
}

fn string_item(s: &str, followed_by_digit: bool) -> Item {
    let s = if followed_by_digit && s.len() == 1 {
        match s {
            "a" => "alpha",
            "b" => "beta",
            "m" => "milestone",
            other => other,
        }
    } else {
        s
    };
    let s = match s {
        "ga" | "final" | "release" => "",
        "cr" => "rc",
        other => other,
    };
    Item::Str(s.to_string())
}

fn parse_item(is_digit: bool, s: &str) -> Item {
    if is_digit {
        let t = s.trim_start_matches('0');
        Item::Int(if t.is_empty() { "0".into() } else { t.into() })
    } else {
        string_item(s, false)
    }
}

impl Item {
    fn is_null(&self) -> bool {
        match self {
            Item::Int(s) => s == "0",
            Item::Str(s) => s.is_empty(),
            Item::List(l) => l.is_empty(),
        }
    }

    /// `self.compareTo(other)`, where `None` is Java's `null`.
    fn cmp_to(&self, other: Option<&Item>) -> Ordering {
        match (self, other) {
            (Item::Int(a), None) => {
                if a == "0" {
                    Ordering::Equal
                } else {
                    Ordering::Greater
                }
            }
            (Item::Int(a), Some(Item::Int(b))) => cmp_digits(a, b),
            (Item::Int(_), Some(_)) => Ordering::Greater,
            (Item::Str(a), None) => comparable_qualifier(a).cmp(&comparable_qualifier("")),
            (Item::Str(_), Some(Item::Int(_))) => Ordering::Less,
            (Item::Str(a), Some(Item::Str(b))) => {
                comparable_qualifier(a).cmp(&comparable_qualifier(b))
            }
            (Item::Str(_), Some(Item::List(_))) => Ordering::Less,
            (Item::List(l), None) => {
                for i in l {
                    let o = i.cmp_to(None);
                    if o != Ordering::Equal {
                        return o;
                    }
                }
                Ordering::Equal
            }
            (Item::List(_), Some(Item::Int(_))) => Ordering::Less,
            (Item::List(_), Some(Item::Str(_))) => Ordering::Greater,
            (Item::List(a), Some(Item::List(b))) => {
                let n = a.len().max(b.len());
                for i in 0..n {
                    let o = match (a.get(i), b.get(i)) {
                        (None, None) => Ordering::Equal,
                        (None, Some(r)) => r.cmp_to(None).reverse(),
                        (Some(l), r) => l.cmp_to(r),
                    };
                    if o != Ordering::Equal {
                        return o;
                    }
                }
                Ordering::Equal
            }
        }
    }
}

fn normalize(list: &mut Vec<Item>) {
    let mut i = list.len();
    while i > 0 {
        i -= 1;
        if list[i].is_null() {
            list.remove(i);
        } else if !matches!(list[i], Item::List(_)) {
            break;
        }
    }
}

/// Builds the item tree: a stack of open lists, each new list nested in the previous one.
fn parse(version: &str) -> Item {
    let v = version.to_lowercase();
    let chars: Vec<char> = v.chars().collect();
    // stack[k] is the k-th nested list; closing happens at the end.
    let mut stack: Vec<Vec<Item>> = vec![Vec::new()];
    let mut is_digit = false;
    let mut start = 0usize;
    let sub = |a: usize, b: usize| chars[a..b].iter().collect::<String>();
    for (i, &c) in chars.iter().enumerate() {
        let top = stack.len() - 1;
        if c == '.' {
            let item = if i == start {
                Item::Int("0".into())
            } else {
                parse_item(is_digit, &sub(start, i))
            };
            stack[top].push(item);
            start = i + 1;
        } else if c == '-' {
            let item = if i == start {
                Item::Int("0".into())
            } else {
                parse_item(is_digit, &sub(start, i))
            };
            stack[top].push(item);
            start = i + 1;
            stack.push(Vec::new());
        } else if c.is_ascii_digit() {
            if !is_digit && i > start {
                stack[top].push(string_item(&sub(start, i), true));
                start = i;
                stack.push(Vec::new());
            }
            is_digit = true;
        } else {
            if is_digit && i > start {
                stack[top].push(parse_item(true, &sub(start, i)));
                start = i;
                stack.push(Vec::new());
            }
            is_digit = false;
        }
    }
    if chars.len() > start {
        let top = stack.len() - 1;
        stack[top].push(parse_item(is_digit, &sub(start, chars.len())));
    }
    // Close lists innermost first: normalize, then append to the parent.
    while stack.len() > 1 {
        let mut inner = stack.pop().unwrap_or_default();
        normalize(&mut inner);
        // A list left holding only a nested list (`1-ga-1`: the null `ga` trimmed before
        // the hyphen) is that list, as the specification's flat token order has it.
        if let [Item::List(only)] = inner.as_slice() {
            inner = only.clone();
        }
        if let Some(parent) = stack.last_mut() {
            parent.push(Item::List(inner));
        }
    }
    let mut root = stack.pop().unwrap_or_default();
    normalize(&mut root);
    Item::List(root)
}

/// Maven order; never fails (every string is a Maven version).
pub fn compare(a: &str, b: &str) -> Result<Ordering, VersionError> {
    Ok(parse(a).cmp_to(Some(&parse(b))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::*;

    #[test]
    fn comparable_version() {
        assert_eq!(compare("1.0-alpha-1", "1.0").unwrap(), Less);
        assert_eq!(compare("1.0-SNAPSHOT", "1.0").unwrap(), Less);
        assert_eq!(compare("1ga", "1").unwrap(), Equal);
        assert_eq!(compare("1.0.0", "1.0-1").unwrap(), Less);
        assert_eq!(compare("2.0.1-xyz", "2.0.1-123").unwrap(), Less);
        assert_eq!(
            compare("1-1.foo-bar-1-baz-0.1", "1-1.foo-bar1baz-.1").unwrap(),
            Equal
        );
    }
}
