//! Spec §11 signature vectors, by value, in both directions (sign and verify).
//!
//! The hex strings are asserted twice: as Rust constants below (the §11 table) and through the
//! JSON files in `tests/vectors/`, which also carry the exact string to sign and, for the HTTP
//! API, the query string each SDK really sends.

use base64::Engine as _;
use pusher_wire::{
    auth::{
        self,
        api_request::{self, ApiAuthError, QueryParams, SignedRequest},
        AuthError,
    },
    webhook::{WebhookEvent, WebhookPayload},
};
use serde::Deserialize;

use crate::support::{vectors, APP_ID, KEY, SECRET, SOCKET_ID};

// The §11 table, by value.
const PRIVATE_AUTH: &str =
    "278d425bdf160c739803:58df8b0c36d6982b82c3ecf6b4662e34fe8c25bba48f5369f135bf843651c3a4";
const PRESENCE_NODE_DATA: &str = r#"{"user_id":10,"user_info":{"name":"Mr. Channels"}}"#;
const PRESENCE_NODE_AUTH: &str =
    "278d425bdf160c739803:31935e7d86dba64c2a90aed31fdc61869f9b22ba9d8863bba239c03ca481bc80";
const PRESENCE_PYTHON_DATA: &str = r#"{"user_id": 10, "user_info": {"name": "Mr. Channels"}}"#;
const PRESENCE_PYTHON_AUTH: &str =
    "278d425bdf160c739803:5b8808f3035fec2e4157c6b430a06d5b0de16d174e1a779e0e2b64d9983bde27";
const ENCRYPTED_AUTH: &str =
    "278d425bdf160c739803:e6a18892d037c5d5e76a2265df4f086ffc38631605530dfd214aa5bff495f533";
const MASTER_KEY_BASE64: &str = "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=";
const SHARED_SECRET: &str = "KH+tRDTu81ixTVmz3MQln/a4WHOgYOu3/49dt88n9/k=";
const SIGNIN_NODE_DATA: &str =
    r#"{"id":"12345","user_info":{"name":"Alice"},"watchlist":["2","3"]}"#;
const SIGNIN_NODE_AUTH: &str =
    "278d425bdf160c739803:c2358192149257363bfee6968dbf9387c1cbe1f7c0174e07bb75b3c3b3340315";
const SIGNIN_PYTHON_DATA: &str = r#"{"id": "12345"}"#;
const SIGNIN_PYTHON_AUTH: &str =
    "278d425bdf160c739803:d06dc389319077f890321aeac54e04868921e1601686928f61fc9bf702e92830";

const TIMESTAMP: u64 = 1353088179;
const API_OFFICIAL_SIG: &str = "da454824c97ba181a32ccc17a72625ba02771f50b50e1e7430e47a1f3f457e6c";
const API_NODE_GET_SIG: &str = "16819168891cb5dfd72b5c7a5d3d602605b26c6ba1930033b5e2eeeb65010291";
const API_PYTHON_GET_SIG: &str = "f3f17c61ae491cc9085db68b22076e9b772e3bcb301659d655153ee3f9782aba";
const API_PYTHON_POST_SIG: &str =
    "d550b5c3df185aa94a2c76c7c3ca5bdec16c5dbef2f7eccdb68886384e05c06a";
const API_PYTHON_TERMINATE_SIG: &str =
    "103f2a90361bc4bcd8407c86f261563b23281fea1602c29fc81ac0ec1b7ec5a7";
const EMPTY_MD5: &str = "d41d8cd98f00b204e9800998ecf8427e";

const WEBHOOK_BODY: &str =
    r#"{"time_ms":1327078148132,"events":[{"name":"channel_occupied","channel":"test_channel"}]}"#;
const WEBHOOK_SIGNATURE: &str = "709fdb84c03664445f7698120b0edf0acc1ab1c8c6e93a0368c61841d6b998aa";

#[derive(Deserialize)]
struct ChannelAuthFile {
    app_id: String,
    key: String,
    secret: String,
    socket_id: String,
    cases: Vec<ChannelAuthCase>,
}

#[derive(Deserialize)]
struct ChannelAuthCase {
    name: String,
    channel: String,
    channel_data: Option<String>,
    string_to_sign: String,
    auth: String,
    #[serde(default)]
    master_key_base64: Option<String>,
    #[serde(default)]
    shared_secret: Option<String>,
}

#[derive(Deserialize)]
struct UserAuthFile {
    cases: Vec<UserAuthCase>,
}

#[derive(Deserialize)]
struct UserAuthCase {
    name: String,
    key: String,
    secret: String,
    socket_id: String,
    user_data: String,
    string_to_sign: String,
    auth: String,
}

#[derive(Deserialize)]
struct ApiFile {
    app_id: String,
    key: String,
    secret: String,
    auth_timestamp: u64,
    cases: Vec<ApiCase>,
    body_md5: Vec<Md5Case>,
}

#[derive(Deserialize)]
struct ApiCase {
    name: String,
    style: String,
    method: String,
    path: String,
    body: String,
    body_md5: Option<String>,
    params: Vec<(String, String)>,
    string_to_sign: String,
    auth_signature: String,
    query: String,
}

#[derive(Deserialize)]
struct Md5Case {
    body: String,
    md5: String,
}

#[derive(Deserialize)]
struct WebhookFile {
    key: String,
    secret: String,
    content_type: String,
    body: String,
    signature: String,
}

fn api_file() -> ApiFile {
    vectors("api_requests.json")
}

fn api_case(name: &str) -> ApiCase {
    api_file()
        .cases
        .into_iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no API vector {name}"))
}

fn verify_case(case: &ApiCase, query: &str, body: &[u8], now: u64) -> Result<(), ApiAuthError> {
    let params = QueryParams::parse(query)?;
    api_request::verify(
        &SignedRequest {
            method: &case.method,
            path: &case.path,
            params: &params,
            body,
        },
        KEY,
        SECRET,
        now,
        api_request::DEFAULT_TIMESTAMP_WINDOW_SECS,
    )
}

#[test]
fn channel_auth_table_by_value() {
    let cases: [(&str, Option<&str>, &str); 4] = [
        ("private-foobar", None, PRIVATE_AUTH),
        (
            "presence-foobar",
            Some(PRESENCE_NODE_DATA),
            PRESENCE_NODE_AUTH,
        ),
        (
            "presence-foobar",
            Some(PRESENCE_PYTHON_DATA),
            PRESENCE_PYTHON_AUTH,
        ),
        ("private-encrypted-foobar", None, ENCRYPTED_AUTH),
    ];
    for (channel, data, expected) in cases {
        assert_eq!(
            auth::channel::sign(KEY, SECRET, SOCKET_ID, channel, data),
            expected,
            "{channel}"
        );
        assert_eq!(
            auth::channel::verify(KEY, SECRET, SOCKET_ID, channel, data, expected),
            Ok(()),
            "{channel}"
        );
    }
}

#[test]
fn channel_auth_vector_file() {
    let file: ChannelAuthFile = vectors("channel_auth.json");
    assert_eq!(
        (&*file.app_id, &*file.key, &*file.secret, &*file.socket_id),
        (APP_ID, KEY, SECRET, SOCKET_ID)
    );
    assert_eq!(file.cases.len(), 4);
    for case in &file.cases {
        let data = case.channel_data.as_deref();
        let signed = auth::channel::sign(KEY, SECRET, SOCKET_ID, &case.channel, data);
        assert_eq!(signed, case.auth, "sign {}", case.name);
        assert_eq!(
            auth::channel::verify(KEY, SECRET, SOCKET_ID, &case.channel, data, &case.auth),
            Ok(()),
            "verify {}",
            case.name
        );
        // The expected hex digest is computed over exactly the documented string.
        let hex = case.auth.split_once(':').expect("key:sig").1;
        assert_eq!(
            auth::hmac_sha256_hex(SECRET.as_bytes(), &[case.string_to_sign.as_bytes()]),
            hex
        );
        // A wrong signature names the string to sign, as real Pusher does.
        let bad = format!("{KEY}:{}", "0".repeat(64));
        assert_eq!(
            auth::channel::verify(KEY, SECRET, SOCKET_ID, &case.channel, data, &bad),
            Err(AuthError::BadSignature {
                string_to_sign: case.string_to_sign.clone(),
                got: bad.clone()
            }),
            "{}",
            case.name
        );
    }
    let by_value = [
        PRIVATE_AUTH,
        PRESENCE_NODE_AUTH,
        PRESENCE_PYTHON_AUTH,
        ENCRYPTED_AUTH,
    ];
    let in_file: Vec<&str> = file.cases.iter().map(|c| c.auth.as_str()).collect();
    assert_eq!(in_file, by_value);
}

// spec §10.13: presence channel_data is verified as the received bytes, never re-serialized.
#[test]
fn presence_signature_covers_channel_data_bytes() {
    let verify = |data: &str, auth: &str| {
        auth::channel::verify(KEY, SECRET, SOCKET_ID, "presence-foobar", Some(data), auth)
    };
    assert_eq!(verify(PRESENCE_NODE_DATA, PRESENCE_NODE_AUTH), Ok(()));
    assert_eq!(verify(PRESENCE_PYTHON_DATA, PRESENCE_PYTHON_AUTH), Ok(()));
    // Same JSON value, other spacing: a different signature.
    assert!(matches!(
        verify(PRESENCE_NODE_DATA, PRESENCE_PYTHON_AUTH),
        Err(AuthError::BadSignature { .. })
    ));
    assert!(matches!(
        verify(PRESENCE_PYTHON_DATA, PRESENCE_NODE_AUTH),
        Err(AuthError::BadSignature { .. })
    ));
    // A presence signature does not authorize the bare channel, and vice versa.
    assert!(auth::channel::verify(
        KEY,
        SECRET,
        SOCKET_ID,
        "presence-foobar",
        None,
        PRESENCE_NODE_AUTH
    )
    .is_err());
}

#[test]
fn channel_auth_rejections() {
    let verify =
        |auth: &str| auth::channel::verify(KEY, SECRET, SOCKET_ID, "private-foobar", None, auth);
    // Uppercase hex is the same digest.
    let upper = format!(
        "{KEY}:{}",
        PRIVATE_AUTH.split_once(':').unwrap().1.to_uppercase()
    );
    assert_eq!(verify(&upper), Ok(()));
    // spec §4.1: the key part must be this app's key (Reverb only compares the signature).
    let other_key = PRIVATE_AUTH.replace(KEY, "0000000000000000aaaa");
    assert_eq!(
        verify(&other_key),
        Err(AuthError::WrongKey {
            got: "0000000000000000aaaa".into()
        })
    );
    assert_eq!(verify("no-colon-here"), Err(AuthError::Malformed));
    assert!(matches!(
        verify(&format!("{KEY}:")),
        Err(AuthError::BadSignature { .. })
    ));
    // Split at the first ':' only: a trailing ":x" is part of the signature, so it is wrong.
    assert!(matches!(
        verify(&format!("{PRIVATE_AUTH}:x")),
        Err(AuthError::BadSignature { .. })
    ));
    // Another socket or channel: wrong.
    assert!(auth::channel::verify(
        KEY,
        SECRET,
        "1234.1235",
        "private-foobar",
        None,
        PRIVATE_AUTH
    )
    .is_err());
    assert!(
        auth::channel::verify(KEY, SECRET, SOCKET_ID, "private-foobaz", None, PRIVATE_AUTH)
            .is_err()
    );
}

#[test]
fn encrypted_shared_secret() {
    let key = base64::engine::general_purpose::STANDARD
        .decode(MASTER_KEY_BASE64)
        .expect("base64");
    let key: [u8; 32] = key.try_into().expect("32 bytes");
    assert_eq!(key, [0x07; 32]);
    assert_eq!(
        auth::channel::encrypted_shared_secret("private-encrypted-foobar", &key),
        SHARED_SECRET
    );
    let file: ChannelAuthFile = vectors("channel_auth.json");
    let case = file
        .cases
        .iter()
        .find(|c| c.master_key_base64.is_some())
        .expect("encrypted case");
    assert_eq!(case.master_key_base64.as_deref(), Some(MASTER_KEY_BASE64));
    assert_eq!(case.shared_secret.as_deref(), Some(SHARED_SECRET));
    assert_eq!(
        auth::channel::encrypted_shared_secret(&case.channel, &key),
        SHARED_SECRET
    );
    // The secret depends on the channel name.
    assert_ne!(
        auth::channel::encrypted_shared_secret("private-encrypted-other", &key),
        SHARED_SECRET
    );
}

#[test]
fn user_signin_table_by_value() {
    for (data, expected) in [
        (SIGNIN_NODE_DATA, SIGNIN_NODE_AUTH),
        (SIGNIN_PYTHON_DATA, SIGNIN_PYTHON_AUTH),
    ] {
        assert_eq!(auth::user::sign(KEY, SECRET, SOCKET_ID, data), expected);
        assert_eq!(
            auth::user::verify(KEY, SECRET, SOCKET_ID, data, expected),
            Ok(())
        );
    }
    // Channel and user signatures are not interchangeable.
    assert!(
        auth::user::verify(KEY, SECRET, SOCKET_ID, SIGNIN_NODE_DATA, SIGNIN_PYTHON_AUTH).is_err()
    );
}

#[test]
fn user_signin_vector_file() {
    let file: UserAuthFile = vectors("user_auth.json");
    assert_eq!(file.cases.len(), 3);
    for case in &file.cases {
        let auth = auth::user::sign(&case.key, &case.secret, &case.socket_id, &case.user_data);
        assert_eq!(auth, case.auth, "sign {}", case.name);
        assert_eq!(
            auth::user::verify(
                &case.key,
                &case.secret,
                &case.socket_id,
                &case.user_data,
                &case.auth
            ),
            Ok(()),
            "verify {}",
            case.name
        );
        let hex = case.auth.split_once(':').unwrap().1;
        assert_eq!(
            auth::hmac_sha256_hex(case.secret.as_bytes(), &[case.string_to_sign.as_bytes()]),
            hex
        );
        // Wrong user_data (one space more) fails with the documented string to sign.
        let other = format!("{} ", case.user_data);
        assert_eq!(
            auth::user::verify(&case.key, &case.secret, &case.socket_id, &other, &case.auth),
            Err(AuthError::BadSignature {
                string_to_sign: format!("{} ", case.string_to_sign),
                got: case.auth.clone()
            })
        );
    }
    assert_eq!(file.cases[0].auth, SIGNIN_NODE_AUTH);
    assert_eq!(file.cases[1].auth, SIGNIN_PYTHON_AUTH);
}

#[test]
fn api_table_by_value() {
    let file = api_file();
    assert_eq!(
        (
            &*file.app_id,
            &*file.key,
            &*file.secret,
            file.auth_timestamp
        ),
        (APP_ID, KEY, SECRET, TIMESTAMP)
    );
    let by_value = [
        ("official-post-events", API_OFFICIAL_SIG),
        ("node-get-channels", API_NODE_GET_SIG),
        ("python-get-channels", API_PYTHON_GET_SIG),
        ("python-post-events", API_PYTHON_POST_SIG),
        ("python-terminate-connections", API_PYTHON_TERMINATE_SIG),
    ];
    assert_eq!(file.cases.len(), by_value.len());
    for (name, sig) in by_value {
        let case = api_case(name);
        assert_eq!(case.auth_signature, sig, "{name}");
        assert_eq!(
            auth::hmac_sha256_hex(SECRET.as_bytes(), &[case.string_to_sign.as_bytes()]),
            sig,
            "{name}"
        );
    }
    // The official worked example, spelled out.
    let body = br#"{"name":"foo","channels":["project-3"],"data":"{\"some\":\"data\"}"}"#;
    assert_eq!(
        api_request::body_md5(body),
        "ec365a775a4cd0599faeb73354201b6f"
    );
    let query = format!(
        "auth_key={KEY}&auth_timestamp={TIMESTAMP}&auth_version=1.0\
         &body_md5=ec365a775a4cd0599faeb73354201b6f&auth_signature={API_OFFICIAL_SIG}"
    );
    let params = QueryParams::parse(&query).unwrap();
    assert_eq!(
        api_request::string_to_sign("POST", "/apps/3/events", &params),
        "POST\n/apps/3/events\nauth_key=278d425bdf160c739803&auth_timestamp=1353088179\
         &auth_version=1.0&body_md5=ec365a775a4cd0599faeb73354201b6f"
    );
    assert_eq!(
        api_request::verify(
            &SignedRequest {
                method: "POST",
                path: "/apps/3/events",
                params: &params,
                body
            },
            KEY,
            SECRET,
            TIMESTAMP,
            600
        ),
        Ok(())
    );
    assert_eq!(
        api_request::sign("POST", "/apps/3/events", KEY, SECRET, TIMESTAMP, body, &[]),
        query
    );
}

#[test]
fn api_vectors_verify_as_sent() {
    for case in api_file().cases {
        let params = QueryParams::parse(&case.query).unwrap();
        assert_eq!(
            api_request::string_to_sign(&case.method, &case.path, &params),
            case.string_to_sign,
            "{}",
            case.name
        );
        assert_eq!(params.get("auth_signature"), Some(&*case.auth_signature));
        assert_eq!(params.get("body_md5"), case.body_md5.as_deref());
        if let Some(md5) = &case.body_md5 {
            assert_eq!(&api_request::body_md5(case.body.as_bytes()), md5);
        }
        assert_eq!(
            verify_case(&case, &case.query, case.body.as_bytes(), TIMESTAMP),
            Ok(()),
            "{}",
            case.name
        );
    }
}

#[test]
fn api_vectors_sign() {
    for case in api_file().cases {
        // `sign` adds body_md5 for non-empty bodies; the Python SDK also sends it on GET.
        let mut extra: Vec<(&str, &str)> = Vec::new();
        if case.body.is_empty() {
            if let Some(md5) = &case.body_md5 {
                extra.push(("body_md5", md5));
            }
        }
        extra.extend(case.params.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let query = api_request::sign(
            &case.method,
            &case.path,
            KEY,
            SECRET,
            TIMESTAMP,
            case.body.as_bytes(),
            &extra,
        );
        let params = QueryParams::parse(&query).unwrap();
        assert_eq!(
            params.get("auth_signature"),
            Some(&*case.auth_signature),
            "{}",
            case.name
        );
        if case.style == "node" {
            // node's createSignedQueryString: sorted params, then auth_signature.
            assert_eq!(query, case.query, "{}", case.name);
        } else {
            assert_eq!(
                params.canonical(),
                QueryParams::parse(&case.query).unwrap().canonical()
            );
        }
        assert_eq!(
            verify_case(&case, &query, case.body.as_bytes(), TIMESTAMP),
            Ok(())
        );
    }
}

// spec §10.17: the Python SDK's body_md5 of the empty body on GET verifies.
#[test]
fn python_get_with_empty_body_md5() {
    let case = api_case("python-get-channels");
    assert_eq!(case.body_md5.as_deref(), Some(EMPTY_MD5));
    assert_eq!(verify_case(&case, &case.query, b"", TIMESTAMP), Ok(()));
    // body_md5 is still checked against the body.
    assert_eq!(
        verify_case(&case, &case.query, b"x", TIMESTAMP),
        Err(ApiAuthError::BodyMd5Mismatch)
    );
    // Stripping body_md5 (as Reverb does) breaks the signature.
    let stripped = case.query.replace(&format!("&body_md5={EMPTY_MD5}"), "");
    assert!(matches!(
        verify_case(&case, &stripped, b"", TIMESTAMP),
        Err(ApiAuthError::BadSignature { .. })
    ));
}

// spec §10.20: the Python SDK's terminate_user_connections path has no /apps/3; sign as sent.
#[test]
fn python_terminate_path_as_sent() {
    let case = api_case("python-terminate-connections");
    assert_eq!(case.path, "/users/42/terminate_connections");
    assert_eq!(verify_case(&case, &case.query, b"{}", TIMESTAMP), Ok(()));
    let params = QueryParams::parse(&case.query).unwrap();
    let err = api_request::verify(
        &SignedRequest {
            method: "POST",
            path: "/apps/3/users/42/terminate_connections",
            params: &params,
            body: b"{}",
        },
        KEY,
        SECRET,
        TIMESTAMP,
        600,
    );
    assert!(matches!(err, Err(ApiAuthError::BadSignature { .. })));
}

#[test]
fn api_verify_window_and_rejections() {
    let case = api_case("official-post-events");
    let body = case.body.as_bytes();
    // spec §7.2: |now - auth_timestamp| <= 600.
    for now in [TIMESTAMP - 600, TIMESTAMP + 600] {
        assert_eq!(verify_case(&case, &case.query, body, now), Ok(()));
    }
    for (now, skew) in [(TIMESTAMP - 601, 601), (TIMESTAMP + 601, 601)] {
        assert_eq!(
            verify_case(&case, &case.query, body, now),
            Err(ApiAuthError::TimestampOutOfWindow { skew, window: 600 })
        );
    }
    // spec §10.19: the key of another app is refused.
    let params = QueryParams::parse(&case.query).unwrap();
    assert_eq!(
        api_request::verify(
            &SignedRequest {
                method: "POST",
                path: "/apps/3/events",
                params: &params,
                body
            },
            "another-key",
            SECRET,
            TIMESTAMP,
            600
        ),
        Err(ApiAuthError::WrongKey)
    );
    // A body that does not match body_md5.
    assert_eq!(
        verify_case(&case, &case.query, b"{}", TIMESTAMP),
        Err(ApiAuthError::BodyMd5Mismatch)
    );
    // A body without body_md5 (node GET query used for a POST with a body).
    let get = api_case("node-get-channels");
    assert_eq!(
        verify_case(&get, &get.query, b"{}", TIMESTAMP),
        Err(ApiAuthError::MissingBodyMd5)
    );
    // Missing or bad parameters.
    for (drop, param) in [
        ("auth_key", "auth_key"),
        ("auth_timestamp", "auth_timestamp"),
        ("auth_version", "auth_version"),
        ("auth_signature", "auth_signature"),
    ] {
        let query: Vec<&str> = case
            .query
            .split('&')
            .filter(|p| !p.starts_with(&format!("{drop}=")))
            .collect();
        assert_eq!(
            verify_case(&case, &query.join("&"), body, TIMESTAMP),
            Err(ApiAuthError::MissingParam(param))
        );
    }
    assert_eq!(
        verify_case(
            &case,
            &case.query.replace("auth_version=1.0", "auth_version=2.0"),
            body,
            TIMESTAMP
        ),
        Err(ApiAuthError::UnsupportedVersion("2.0".into()))
    );
    assert_eq!(
        verify_case(
            &case,
            &case
                .query
                .replace("auth_timestamp=1353088179", "auth_timestamp=soon"),
            body,
            TIMESTAMP
        ),
        Err(ApiAuthError::BadTimestamp("soon".into()))
    );
    // A tampered signature reports the canonical string.
    let tampered = case.query.replace(API_OFFICIAL_SIG, &"0".repeat(64));
    assert_eq!(
        verify_case(&case, &tampered, body, TIMESTAMP),
        Err(ApiAuthError::BadSignature {
            string_to_sign: case.string_to_sign.clone()
        })
    );
    // Uppercase hex is accepted.
    let upper = case
        .query
        .replace(API_OFFICIAL_SIG, &API_OFFICIAL_SIG.to_uppercase());
    assert_eq!(verify_case(&case, &upper, body, TIMESTAMP), Ok(()));
    // The method is part of the string.
    let params = QueryParams::parse(&case.query).unwrap();
    assert!(api_request::verify(
        &SignedRequest {
            method: "PUT",
            path: &case.path,
            params: &params,
            body
        },
        KEY,
        SECRET,
        TIMESTAMP,
        600
    )
    .is_err());
    // A lower-case method is upper-cased before signing.
    assert_eq!(
        api_request::verify(
            &SignedRequest {
                method: "post",
                path: &case.path,
                params: &params,
                body
            },
            KEY,
            SECRET,
            TIMESTAMP,
            600
        ),
        Ok(())
    );
}

// spec §10.18: all params, percent-decoded, keys lower-cased, sorted, values unescaped.
#[test]
fn canonical_params() {
    // The HTTP API doc's example.
    let p = QueryParams::parse("auth_key=foo&Name=Something%20else").unwrap();
    assert_eq!(p.canonical(), "auth_key=foo&name=Something else");
    let p = QueryParams::parse("auth_key=foo&Name=Something+else").unwrap();
    assert_eq!(p.canonical(), "auth_key=foo&name=Something else");
    // Order of the query does not matter; auth_signature is left out; unknown params count.
    let p = QueryParams::parse(
        "info=user_count%2Csubscription_count&zz=1&auth_signature=x&auth_key=k&filter_by_prefix=presence-",
    )
    .unwrap();
    assert_eq!(
        p.canonical(),
        "auth_key=k&filter_by_prefix=presence-&info=user_count,subscription_count&zz=1"
    );
    // A node GET whose query is reordered and percent-encoded still verifies.
    let case = api_case("node-get-channels");
    let reordered = format!(
        "info=user%5Fcount&auth_signature={API_NODE_GET_SIG}&filter_by_prefix=presence%2D\
         &auth_version=1.0&auth_timestamp={TIMESTAMP}&auth_key={KEY}"
    );
    assert_eq!(verify_case(&case, &reordered, b"", TIMESTAMP), Ok(()));
    // Malformed escapes are typed errors.
    for bad in ["a=%", "a=%g0", "a=%ff%fe"] {
        assert_eq!(
            QueryParams::parse(bad),
            Err(ApiAuthError::MalformedQuery),
            "{bad}"
        );
    }
}

#[test]
fn body_md5_vectors() {
    let file = api_file();
    assert_eq!(file.body_md5.len(), 3);
    for case in &file.body_md5 {
        assert_eq!(api_request::body_md5(case.body.as_bytes()), case.md5);
    }
    assert_eq!(api_request::body_md5(b""), EMPTY_MD5);
    assert_eq!(
        api_request::body_md5(b"{}"),
        "99914b932bd37a50b983c5e7c90ae93b"
    );
    assert_eq!(
        api_request::body_md5(b"example body"),
        "165d5e6d7ca8f73b3853ce45addf42fc"
    );
}

// spec §10.25: the signature is over the exact body; time_ms is in milliseconds.
#[test]
fn webhook_vector() {
    let file: WebhookFile = vectors("webhook.json");
    assert_eq!((&*file.key, &*file.secret), (KEY, SECRET));
    assert_eq!(file.content_type, "application/json");
    assert_eq!(file.body, WEBHOOK_BODY);
    assert_eq!(file.signature, WEBHOOK_SIGNATURE);
    assert_eq!(
        auth::webhook::sign(SECRET, WEBHOOK_BODY.as_bytes()),
        WEBHOOK_SIGNATURE
    );
    assert!(auth::webhook::verify(
        SECRET,
        WEBHOOK_BODY.as_bytes(),
        WEBHOOK_SIGNATURE
    ));
    assert!(auth::webhook::verify(
        SECRET,
        WEBHOOK_BODY.as_bytes(),
        &WEBHOOK_SIGNATURE.to_uppercase()
    ));
    assert!(!auth::webhook::verify(
        SECRET,
        format!("{WEBHOOK_BODY} ").as_bytes(),
        WEBHOOK_SIGNATURE
    ));
    assert!(!auth::webhook::verify(
        "other",
        WEBHOOK_BODY.as_bytes(),
        WEBHOOK_SIGNATURE
    ));
    assert!(!auth::webhook::verify(SECRET, WEBHOOK_BODY.as_bytes(), ""));
    // The typed payload reproduces the vector body byte for byte, so its signature matches.
    let payload = WebhookPayload {
        time_ms: 1327078148132,
        events: vec![WebhookEvent::ChannelOccupied {
            channel: "test_channel".into(),
        }],
    };
    assert_eq!(payload.to_body(), WEBHOOK_BODY);
    assert_eq!(
        serde_json::from_str::<WebhookPayload>(WEBHOOK_BODY).unwrap(),
        payload
    );
    assert_eq!(
        auth::webhook::sign(SECRET, payload.to_body().as_bytes()),
        WEBHOOK_SIGNATURE
    );
    assert_eq!(auth::webhook::SIGNATURE_HEADER, "X-Pusher-Signature");
    assert_eq!(auth::webhook::KEY_HEADER, "X-Pusher-Key");
}
