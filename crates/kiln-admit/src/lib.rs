//! Kiln's Kubernetes admission webhook: `admission.k8s.io/v1` AdmissionReview at `/validate`
//! and `/mutate` over HTTPS, deciding with the same policy engine as `kiln verify --policy`.
