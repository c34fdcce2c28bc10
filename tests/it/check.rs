//! `tidings check`: exit 0 and a summary for a good config; exit 1 and `file:line:column` for
//! a broken one.

use crate::support::Workspace;

async fn check(config: &str) -> (i32, String, String) {
    let workspace = Workspace::new(config);
    let output = workspace.command(&["check"]).await;
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn the_shipped_config_is_good() {
    let (code, stdout, stderr) = check(&crate::support::shipped_config()).await;
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("feeds.toml: ok: 13 feeds, 2 topics"),
        "{stdout}"
    );
}

#[tokio::test]
async fn a_good_config_gets_a_one_line_summary() {
    let (code, stdout, _) = check(
        "[[feeds]]\nurl = \"https://a.example/rss\"\n[[feeds]]\nurl = \"https://b.example/atom\"\n\
         [[topics]]\nname = \"t\"\nany = [\"x\"]\n",
    )
    .await;
    assert_eq!(code, 0);
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(stdout.ends_with("ok: 2 feeds, 1 topics\n"), "{stdout}");
}

#[tokio::test]
async fn broken_configs_exit_1_naming_the_place() {
    let cases = [
        (
            "[[feeds]]\nurl = \"https://a.example/\"\ncolour = \"red\"\n",
            "feeds.toml:3:1: unknown field `colour`",
        ),
        (
            "[[feeds]]\nurl = 7\n",
            "feeds.toml:2:7: invalid type: integer `7`, expected a string",
        ),
        (
            "[[feeds]]\nurl = \"htp:/nowhere\"\n",
            "feeds.toml:2:7: feed url \"htp:/nowhere\"",
        ),
        (
            "[[feeds]]\nurl = \"https://a.example/\"\n[[feeds]]\nurl = \"https://a.example/\"\n",
            "feeds.toml:4:7: duplicate feed url",
        ),
        (
            "[[feeds]]\nurl = \"https://a.example/\"\n[[topics]]\nname = \"t\"\nany = [\"a\"]\n\
             [[topics]]\nname = \"t\"\nany = [\"b\"]\n",
            "feeds.toml:7:8: duplicate topic name \"t\"",
        ),
        (
            "[settings]\ninterval = \"5 parsecs\"\n[[feeds]]\nurl = \"https://a.example/\"\n",
            "feeds.toml:2:12: bad duration",
        ),
        ("[[feeds]\nurl = \"https://a.example/\"\n", "feeds.toml:1:"),
        ("", "feeds.toml:1:1: the config is empty"),
    ];
    for (config, expected) in cases {
        let (code, stdout, stderr) = check(config).await;
        assert_eq!(code, 1, "config {config:?} gave {stdout} {stderr}");
        assert!(
            stderr.contains(expected),
            "config {config:?}: expected {expected:?} in {stderr:?}"
        );
    }
}

#[tokio::test]
async fn a_missing_config_is_a_config_error() {
    let workspace = Workspace::new("");
    let output = tokio::process::Command::new(crate::support::tidings::BINARY)
        .args(["check", "--config"])
        .arg(workspace.directory.path().join("nope.toml"))
        .output()
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("nope.toml: cannot read the config"));
}
