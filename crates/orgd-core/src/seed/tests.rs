use super::*;
use std::path::Path;

const GOOD: &str = r#"# a small seed
orgs:
  - tenant_id: ACME
    name: Acme Ltd
    usage_plan: {rate_per_second: 5, burst: 5, daily_quota: null}
    users:
      - user_id: admin@acme.test
        password: Acme-Admin-2024!
        role: administrator
        token_access: true
        tokens:
          - secret: orgd_aaaaaaaaaaaaaaaa_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA
            label: ci
            ends_at: 2031-01-01
    datasets:
      - name: People
        type: PEOPLE
        autoId: Employee ID
        properties:
          - {key: Employee ID, type: number, isRequired: true}
        items:
          - {Employee ID: 1}
          - {Employee ID: 2}
  - tenant_id: ACME_EU
    name: Acme EU
    parent: ACME
"#;

fn errors(text: &str) -> Vec<String> {
    parse(Path::new("seed.yaml"), text).unwrap_err().iter().map(|e| e.to_string()).collect()
}

#[test]
fn a_good_seed_is_read_with_derived_ids() {
    let seed = parse(Path::new("seed.yaml"), GOOD).unwrap();
    assert_eq!(seed.counts(), [2, 1, 1, 1, 2]);
    let acme = &seed.orgs[0];
    assert_eq!(acme.org_id, derived_org_id(&acme.tenant_id));
    assert_eq!(acme.org_id, parse(Path::new("other.yaml"), GOOD).unwrap().orgs[0].org_id);
    assert_eq!(acme.plan.as_ref().unwrap().daily_quota, Some(None));
    assert_eq!(acme.plan.as_ref().unwrap().burst, Some(5));
    assert_eq!(acme.users[0].tokens[0].minted.token_id, "aaaaaaaaaaaaaaaa");
    assert_eq!(acme.datasets[0].actions[1]["_action"], "create");
    assert_eq!(acme.datasets[0].actions[1]["Employee ID"], 2);
    assert_eq!(seed.orgs[1].parent.as_deref(), Some("ACME"));
}

#[test]
fn faults_name_the_file_the_line_and_the_field() {
    let bad = GOOD.replace("role: administrator", "role: admin").replace("ends_at: 2031-01-01", "ends_at: soon");
    assert_eq!(
        errors(&bad),
        vec![
            "seed.yaml:9: orgs[0].users[0].role: must be administrator, user_manager or user",
            "seed.yaml:14: orgs[0].users[0].tokens[0].ends_at: must be a date (YYYY-MM-DD) or an RFC 3339 date-time",
        ]
    );
    let e = errors(&GOOD.replace("label: ci", "lable: ci"));
    assert_eq!(e.len(), 1);
    assert!(e[0].starts_with("seed.yaml:13: "), "{e:?}");
    assert!(e[0].contains("unknown field `lable`"), "{e:?}");
    let e = errors(&GOOD.replace("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "short"));
    assert!(e[0].starts_with("seed.yaml:12: orgs[0].users[0].tokens[0].secret: must have the form"), "{e:?}");
    let e = errors(&GOOD.replace("tenant_id: ACME_EU", "tenant_id: ACME"));
    assert_eq!(e, vec!["seed.yaml:24: orgs[1].tenant_id: ACME appears twice in the file"]);
    let e = errors("orgs:\n  - tenant_id: acme\n    name: x\n");
    assert_eq!(e, vec!["seed.yaml:2: orgs[0].tenant_id: must match ^[A-Z][A-Z0-9_]{0,29}$"]);
    let e = errors("orgs: [\n");
    assert!(e[0].starts_with("seed.yaml:"), "{e:?}");
}

#[test]
fn json_seeds_and_item_files_are_read() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("people.csv"), "Employee ID,Name\n1,Ana\n2,\n").unwrap();
    let json = r#"{"orgs": [{"tenant_id": "ACME", "name": "Acme",
        "datasets": [{"name": "People", "type": "PEOPLE", "items_file": "people.csv",
                      "properties": [{"key": "Employee ID", "type": "number"}, {"key": "Name", "type": "text"}]}]}]}"#;
    let path = dir.path().join("seed.json");
    std::fs::write(&path, json).unwrap();
    let seed = load(&path).unwrap();
    let actions = &seed.orgs[0].datasets[0].actions;
    assert_eq!(actions.len(), 2);
    assert_eq!(actions[0], serde_json::json!({"_action": "create", "Employee ID": "1", "Name": "Ana"}));
    std::fs::write(&path, json.replace("people.csv", "missing.csv")).unwrap();
    let e = load(&path).unwrap_err();
    assert_eq!(e[0].field, "orgs[0].datasets[0].items_file");
    assert!(e[0].message.contains("cannot read"), "{e:?}");
    assert_eq!(e[0].line, Some(2));
}
