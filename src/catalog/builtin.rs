//! The built-in catalog, compiled into the binary.

/// `(path as shown in messages, contents)` of every file in `catalog/`.
pub const BUILTIN_FILES: &[(&str, &str)] = &[
    (
        "catalog/database.yaml",
        include_str!("../../catalog/database.yaml"),
    ),
    (
        "catalog/postgres-extras.yaml",
        include_str!("../../catalog/postgres-extras.yaml"),
    ),
    (
        "catalog/container.yaml",
        include_str!("../../catalog/container.yaml"),
    ),
    (
        "catalog/process.yaml",
        include_str!("../../catalog/process.yaml"),
    ),
    ("catalog/host.yaml", include_str!("../../catalog/host.yaml")),
    (
        "catalog/network.yaml",
        include_str!("../../catalog/network.yaml"),
    ),
    (
        "catalog/kubernetes.yaml",
        include_str!("../../catalog/kubernetes.yaml"),
    ),
    (
        "catalog/compound.yaml",
        include_str!("../../catalog/compound.yaml"),
    ),
];
