//! Multipart bodies of `PUT /v3/organizations/{id}`: parsed with multer (the parser axum uses) and handled
//! as the server does: the `data` part as JSON settings, `push_cert_file` through the DER check, then the
//! settings validation. Any input ends in a value or an error, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use orgd_core::ids::{OrgId, TenantId};
use orgd_core::model::{Org, UsagePlan};
use orgd_core::net::CidrList;
use orgd_core::org_update::{apply, is_der_sequence, CertChange};

const BOUNDARY: &str = "orgdfuzzboundary";

fuzz_target!(|data: &[u8]| {
    let body = bytes::Bytes::copy_from_slice(data);
    let stream = futures::stream::once(async move { Ok::<_, std::io::Error>(body) });
    let constraints = multer::Constraints::new().size_limit(multer::SizeLimit::new().whole_stream(1 << 20));
    let mut form = multer::Multipart::with_constraints(stream, BOUNDARY, constraints);
    futures::executor::block_on(async {
        let mut settings = None;
        let mut cert = CertChange::None;
        while let Ok(Some(field)) = form.next_field().await {
            let name = field.name().unwrap_or("").to_string();
            let Ok(bytes) = field.bytes().await else { return };
            match name.as_str() {
                "data" => settings = serde_json::from_slice::<serde_json::Value>(&bytes).ok(),
                "push_cert_file" if is_der_sequence(&bytes) => cert = CertChange::Upload(format!("{}", bytes.len())),
                _ => {}
            }
        }
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
        let _ = apply(&org, &settings.unwrap_or_else(|| serde_json::json!({})), cert, time::OffsetDateTime::UNIX_EPOCH);
    });
});
