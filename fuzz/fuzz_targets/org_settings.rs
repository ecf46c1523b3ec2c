//! Org settings validation (`PUT /v3/organizations/{id}` bodies): any JSON gives either the changed org
//! with warnings or the faults, and a fault changes nothing.
#![no_main]
use libfuzzer_sys::fuzz_target;
use orgd_core::ids::{OrgId, TenantId};
use orgd_core::model::{Org, UsagePlan};
use orgd_core::net::CidrList;
use orgd_core::org_update::{apply, CertChange};

fuzz_target!(|data: &[u8]| {
    let Ok(request) = serde_json::from_slice::<serde_json::Value>(data) else { return };
    let org = Org {
        org_id: OrgId::parse("qtvFBASTipf1FiUmQkp-Lw").expect("valid id"),
        tenant_id: TenantId::parse("FUZZ").expect("valid tenant"),
        parent_id: None,
        name: "Fuzz".into(),
        allowed_subnets: CidrList::any(),
        usage_plan: UsagePlan::default(),
        settings: orgd_core::org_settings::defaults(),
        created_at: time::OffsetDateTime::UNIX_EPOCH,
    };
    if let Ok((changed, _warnings)) = apply(&org, &request, CertChange::None, time::OffsetDateTime::UNIX_EPOCH) {
        assert_eq!(changed.org_id, org.org_id, "the id never changes");
        let again = apply(&changed, &request, CertChange::None, time::OffsetDateTime::UNIX_EPOCH);
        assert!(again.is_ok(), "a request that applied once applies again");
    }
});
