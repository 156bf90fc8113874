//! Embeds the shipped model (models/stance-small) in the binary when it is present.
use std::path::Path;

fn main() {
    let root = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let dir = Path::new(&root).join("models").join("stance-small");
    let out = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    let files = ["config.json", "model.safetensors", "tokenizer.json"];
    for f in files {
        println!("cargo:rerun-if-changed={}", dir.join(f).display());
    }
    let code = if files.iter().all(|f| dir.join(f).is_file()) {
        let p = |f: &str| format!("{:?}", dir.join(f).display().to_string());
        format!(
            "/// The shipped model's config, weights and tokenizer.\npub static EMBEDDED: Option<(&[u8], &[u8], &[u8])> = Some((include_bytes!({}), include_bytes!({}), include_bytes!({})));\n",
            p(files[0]),
            p(files[1]),
            p(files[2])
        )
    } else {
        "/// No shipped model was present at build time.\npub static EMBEDDED: Option<(&[u8], &[u8], &[u8])> = None;\n".to_string()
    };
    std::fs::write(Path::new(&out).join("embedded_model.rs"), code)
        .expect("write embedded_model.rs");
}
