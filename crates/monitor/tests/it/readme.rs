//! The README's `pulse.toml` example is a valid configuration.

use pulse_monitor::{AlertRuleConfig, MonitorConfig, RuleKind, Severity};

#[test]
fn the_readme_example_parses_and_validates() {
    let readme = include_str!("../../README.md");
    let start = readme.find("```toml\n").expect("a toml block") + "```toml\n".len();
    let end = start + readme[start..].find("\n```").expect("its end");
    let c = MonitorConfig::from_pulse_toml(&readme[start..end]).expect("the example is valid");
    let kinds: Vec<RuleKind> = c.alerts.iter().map(AlertRuleConfig::kind).collect();
    assert_eq!(
        kinds,
        [
            RuleKind::TaskFailed,
            RuleKind::Sla,
            RuleKind::Freshness,
            RuleKind::Quality,
            RuleKind::Volume,
            RuleKind::SlowRun,
            RuleKind::Cost
        ]
    );
    assert_eq!(c.alerts[6].name(), "compute-budget");
    assert_eq!(c.notifiers.len(), 4);
    assert_eq!(
        c.route(Severity::Critical, Some("finance@example.com"), "x"),
        ["pager", "mail", "ops", "slack"]
    );
}
