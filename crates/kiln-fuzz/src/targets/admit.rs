//! Target for kiln-admit: an AdmissionReview body as the webhook receives it, then the
//! workload's images as the gate extracts them.

/// An AdmissionReview request body.
pub fn review(data: &[u8]) -> String {
    match kiln_admit::review::parse_review(data) {
        Ok(req) => {
            let _ = req.effective_namespace();
            let w = kiln_admit::workload::extract(&req.kind.kind, req.object.as_ref());
            format!("ok {}", super::label(&w))
        }
        Err(e) => super::error_label(&e.to_string()),
    }
}
