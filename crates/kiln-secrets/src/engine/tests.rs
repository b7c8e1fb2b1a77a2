//! Engine tests: every built-in rule against its own examples, gitleaks' default file, and
//! the filters (entropy, allowlists, inline comments).

use super::*;
use crate::config::Config;

fn scanner(cfg: &Config) -> Scanner {
    Scanner::new(RuleSet::compile(cfg), SkipPolicy::default())
}

fn frag<'a>(path: &'a str, text: &'a str) -> Fragment<'a> {
    Fragment {
        path,
        data: text.as_bytes(),
        commit: None,
    }
}

#[test]
fn builtin_rules_compile_and_count() {
    let cfg =
        Config::parse(crate::config::DEFAULT_RULES, "built-in").expect("built-in rules parse");
    let set = RuleSet::compile(&cfg);
    assert!(
        set.errors.is_empty(),
        "built-in rules must compile: {:?}",
        set.errors
    );
    assert!(set.rules.len() >= 150, "only {} rules", set.rules.len());
    for r in &set.rules {
        assert!(
            !r.tp.is_empty() && !r.fp.is_empty(),
            "rule {} lacks tp/fp examples",
            r.id
        );
    }
}

#[test]
fn every_builtin_rule_finds_its_true_positives_and_not_its_false_positives() {
    let s = scanner(&Config::builtin());
    let mut failures = Vec::new();
    for r in &s.rules().rules {
        for tp in &r.tp {
            let found = if r.regex.is_none() {
                s.scan_path(tp)
            } else {
                s.scan(&frag("src/settings.conf", tp))
            };
            if !found.iter().any(|f| f.rule_id == r.id) {
                failures.push(format!("{}: tp not found: {tp:?}", r.id));
            }
        }
        for fp in &r.fp {
            let found = if r.regex.is_none() {
                s.scan_path(fp)
            } else {
                s.scan(&frag("src/settings.conf", fp))
            };
            if found.iter().any(|f| f.rule_id == r.id) {
                failures.push(format!("{}: fp found: {fp:?}", r.id));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn gitleaks_default_config_loads_and_finds() {
    let Some(dir) = kiln_testutil::shared_vectors("gitleaks") else {
        return;
    };
    let cfg = Config::load(&dir.join("gitleaks.toml")).expect("gitleaks.toml parses");
    assert_eq!(cfg.rules.len(), 222);
    let set = RuleSet::compile(&cfg);
    assert!(
        set.errors.is_empty(),
        "gitleaks rules that do not compile: {:?}",
        set.errors
    );
    let s = Scanner::new(set, SkipPolicy::default());
    let text = format!(
        "token = \"ghp_{}\"\nAWS_KEY=AKIA{}\n",
        "Kq3vT9xLm2Zp8RwYb4Nc7Hd1Fg6Js0Ae5Uiw", "QW2ERT3YUI4OPA5S"
    );
    let found = s.scan(&frag("app/config.py", &text));
    let ids: Vec<_> = found.iter().map(|f| f.rule_id.as_str()).collect();
    assert!(ids.contains(&"github-pat"), "{ids:?}");
    assert!(ids.contains(&"aws-access-token"), "{ids:?}");
}

#[test]
fn bad_regex_is_reported_by_id_and_others_still_run() {
    let cfg = Config::parse(
        r#"
[[rules]]
id = "broken"
regex = '''(unclosed'''
[[rules]]
id = "works"
regex = '''kiln_[0-9]{6}'''
keywords = ["kiln_"]
"#,
        "test",
    )
    .expect("parses");
    let set = RuleSet::compile(&cfg);
    assert_eq!(set.errors.len(), 1);
    assert_eq!(set.errors[0].rule, "broken");
    assert!(set.errors[0].to_string().contains("broken"));
    let s = Scanner::new(set, SkipPolicy::default());
    assert_eq!(s.scan(&frag("a", "x kiln_123456 y")).len(), 1);
}

#[test]
fn prefilter_skips_rules_without_keyword_hits_case_insensitively() {
    let cfg = Config::parse(
        r#"
[[rules]]
id = "needs-kw"
regex = '''[0-9]{8}'''
keywords = ["magic"]
"#,
        "test",
    )
    .expect("parses");
    let s = scanner(&cfg);
    assert!(s.scan(&frag("a", "12345678")).is_empty());
    assert_eq!(s.scan(&frag("a", "MAGIC 12345678")).len(), 1);
}

#[test]
fn entropy_stopwords_allowlists_and_inline_comments() {
    let cfg = Config::parse(
        r#"
[allowlist]
paths = ['''^fixtures/''']
stopwords = ["kilnstop"]
[[rules]]
id = "tok"
regex = '''tok_([A-Za-z0-9]{12,40})'''
entropy = 3.0
keywords = ["tok_"]
[[rules.allowlists]]
regexes = ['''^ALLOWED''']
[[rules.allowlists]]
condition = "AND"
paths = ['''\.md$''']
regexTarget = "line"
regexes = ['''docs-example''']
"#,
        "test",
    )
    .expect("parses");
    let s = scanner(&cfg);
    let good = "tok_Zx8Qw2Lm9Kp4Rt7V";
    assert_eq!(s.scan(&frag("a.txt", good)).len(), 1);
    let f = &s.scan(&frag("a.txt", good))[0];
    assert_eq!(f.secret.expose(), "Zx8Qw2Lm9Kp4Rt7V");
    assert_eq!((f.line, f.column), (1, 5));
    assert!(
        s.scan(&frag("a.txt", "tok_aaaaaaaaaaaaaaaa")).is_empty(),
        "entropy"
    );
    assert!(
        s.scan(&frag("fixtures/a.txt", good)).is_empty(),
        "global path"
    );
    assert!(
        s.scan(&frag("a.txt", "tok_ALLOWEDx8Qw2Lm9Kp")).is_empty(),
        "rule regex"
    );
    assert!(
        s.scan(&frag("a.txt", "tok_Zx8kilnstop2Lm9")).is_empty(),
        "stopword"
    );
    assert!(
        s.scan(&frag("a.txt", &format!("{good} # kiln:allow")))
            .is_empty()
    );
    assert!(
        s.scan(&frag("a.txt", &format!("{good} // gitleaks:allow")))
            .is_empty()
    );
    assert!(
        s.scan(&frag("a.md", &format!("docs-example {good}")))
            .is_empty(),
        "AND both"
    );
    assert_eq!(
        s.scan(&frag("a.txt", &format!("docs-example {good}")))
            .len(),
        1,
        "AND one"
    );
    let two = format!("x\n\ny {good}\n");
    let f = &s.scan(&frag("a.txt", &two))[0];
    assert_eq!((f.line, f.column), (3, 7));
}

#[test]
fn invalid_utf8_and_binary_bytes_do_not_break_matching() {
    let s = scanner(&Config::builtin());
    let mut data = vec![0xff, 0xfe, b'\n'];
    data.extend_from_slice(b"aws_access_key_id = AKIAQW2ERT3YUI4OPA5S\n");
    data.extend_from_slice(&[0xc3, 0x28, 0x00, 0x80]);
    let found = s.scan(&Fragment {
        path: "x.bin",
        data: &data,
        commit: None,
    });
    assert!(
        found.iter().any(|f| f.rule_id == "aws-access-key-id"),
        "{found:?}"
    );
}
