//! The embedded demo environment, and the throwaway parts it is built from: a
//! PostgreSQL cluster started from the system's server binaries and a small Docker
//! image built offline. Integration tests use the same parts.

pub mod busybox_image;
pub mod containers;
mod demo_db;
mod demo_http;
pub mod demo_service;
mod docker_socket;
pub mod error;
pub mod lab_files;
pub mod load_gen;
pub mod pg_cluster;
mod pg_host;
pub mod record;
pub mod supervisor;
pub mod teardown;
pub mod up;

pub use busybox_image::{
    docker_connect, docker_host, ensure_busybox_image, BUSYBOX_IMAGE_REPO, BUSYBOX_PATH,
};
pub use error::{Component, LabError};
pub use pg_cluster::{PgCluster, PgClusterOptions};
pub(crate) use pg_host::find_bin_dir;
pub use pg_host::PG_BIN_ENV;
