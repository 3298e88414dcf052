//! The `/docs` page: Swagger UI with the OpenAPI document inlined, so it renders with no
//! internet access and no second request.

/// The HTML page, built once per cold start from the viewer's assets (bundled into the binary
/// at build time) and the document.
pub fn page(viewer_css: &str, viewer_js: &str, document: &str) -> String {
    // `</` inside a <script> would end it early; `<\/` means the same in JSON.
    let spec = document.replace("</", "<\\/");
    format!(
        r##"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>User service API</title>
<style>{viewer_css}</style>
</head>
<body>
<div id="swagger-ui"></div>
<script type="application/json" id="openapi-document">{spec}</script>
<script>{viewer_js}</script>
<script>
window.ui = SwaggerUIBundle({{
  spec: JSON.parse(document.getElementById("openapi-document").textContent),
  dom_id: "#swagger-ui",
  deepLinking: true,
  validatorUrl: null,
}});
</script>
</body>
</html>
"##
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_cannot_close_its_script_early() {
        let html = page(
            "",
            "",
            r#"{"description": "</script><script>alert(1)</script>"}"#,
        );
        assert!(!html.contains("</script><script>alert(1)"));
        assert!(html.contains(r#"<\/script>"#));
    }

    #[test]
    fn the_page_needs_nothing_from_the_network() {
        let html = page("body{}", "var SwaggerUIBundle;", "{}");
        assert!(
            !html.contains("http://") && !html.contains("https://"),
            "{html}"
        );
    }
}
