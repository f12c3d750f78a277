//! A tiny Docker image built offline from the host's static busybox binary: `FROM scratch`,
//! busybox at `/bin/busybox` with a link per applet in `/bin`, and a default command that
//! idles until it is told to stop. No registry is needed.

use bollard::image::BuildImageOptions;
use bollard::Docker;
use futures_util::StreamExt;
use std::path::Path;

use super::error::LabError;

/// Where the static busybox binary is expected (Debian's `busybox-static`).
pub const BUSYBOX_PATH: &str = "/bin/busybox";

/// Repository name of the lab image; the tag is derived from its contents.
pub const BUSYBOX_IMAGE_REPO: &str = "chaosdeck-busybox";

/// Serialises builds within this process, so concurrent callers do not each build and
/// leave dangling images behind.
static BUILD_LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Bumped whenever the layout below changes, so a new tag is built.
const LAYOUT_VERSION: &str = "1";

const DOCKERFILE: &str = r#"FROM scratch
COPY rootfs/ /
ENV PATH=/bin
ENTRYPOINT ["/bin/busybox"]
CMD ["sh", "-c", "trap 'exit 0' TERM INT; while true; do sleep 1; done"]
LABEL org.chaosdeck.lab="busybox"
"#;

/// The Docker host the client talks to, as shown in messages.
pub fn docker_host() -> String {
    std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".to_string())
}

/// Connects to the local Docker engine (honouring `DOCKER_HOST`; a Unix socket's
/// connections are kept between requests) and settles on the API version the engine
/// speaks.
pub async fn docker_connect() -> Result<Docker, LabError> {
    let unreachable = |source| LabError::DockerUnreachable {
        host: docker_host(),
        source,
    };
    let host = std::env::var("DOCKER_HOST").ok();
    let docker = match super::docker_socket::unix_socket_path(host.as_deref()) {
        Some(path) => super::docker_socket::connect_unix(path),
        None => Docker::connect_with_defaults(),
    }
    .map_err(unreachable)?;
    let docker = docker.negotiate_version().await.map_err(unreachable)?;
    docker.ping().await.map_err(unreachable)?;
    Ok(docker)
}

/// The static busybox binary the image is built from; a missing or dynamically
/// linked one is an error saying how to get the right one.
pub fn read_static_busybox() -> Result<Vec<u8>, LabError> {
    let path = Path::new(BUSYBOX_PATH);
    let busybox = std::fs::read(path).map_err(|e| LabError::BusyboxMissing {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    check_static_elf(&busybox).map_err(|reason| LabError::BusyboxMissing {
        path: path.to_path_buf(),
        reason,
    })?;
    Ok(busybox)
}

/// Builds the busybox image unless an image with its tag exists; returns the tag.
pub async fn ensure_busybox_image(docker: &Docker) -> Result<String, LabError> {
    let path = Path::new(BUSYBOX_PATH);
    let busybox = read_static_busybox()?;
    let mut hash = Fnv64::new();
    hash.write(LAYOUT_VERSION.as_bytes());
    hash.write(DOCKERFILE.as_bytes());
    hash.write(&busybox);
    let tag = format!("{BUSYBOX_IMAGE_REPO}:{:016x}", hash.finish());

    let _building = BUILD_LOCK.lock().await;
    match docker.inspect_image(&tag).await {
        Ok(_) => return Ok(tag),
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => {}
        Err(source) => {
            return Err(LabError::Docker {
                what: format!("inspecting image \"{tag}\""),
                source,
            })
        }
    }
    let applets = list_applets(path).await?;
    let context = build_context(&busybox, &applets)
        .map_err(|e| LabError::io("packing the busybox build context", e))?;
    let options = BuildImageOptions {
        dockerfile: "Dockerfile".to_string(),
        t: tag.clone(),
        rm: true,
        forcerm: true,
        ..Default::default()
    };
    let mut progress = docker.build_image(options, None, Some(context.into()));
    while let Some(item) = progress.next().await {
        let info = item.map_err(|e| LabError::ImageBuild {
            tag: tag.clone(),
            message: e.to_string(),
        })?;
        if let Some(message) = info.error {
            return Err(LabError::ImageBuild { tag, message });
        }
    }
    docker
        .inspect_image(&tag)
        .await
        .map_err(|source| LabError::Docker {
            what: format!("inspecting freshly built image \"{tag}\""),
            source,
        })?;
    Ok(tag)
}

/// The applet names of the busybox binary, from `busybox --list`.
async fn list_applets(path: &Path) -> Result<Vec<String>, LabError> {
    let out = tokio::process::Command::new(path)
        .arg("--list")
        .output()
        .await
        .map_err(|e| LabError::BusyboxMissing {
            path: path.to_path_buf(),
            reason: format!("cannot run it: {e}"),
        })?;
    let names: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::trim)
        .filter(|name| !name.is_empty() && !name.contains('/') && *name != "busybox")
        .map(str::to_string)
        .collect();
    if !out.status.success() || names.is_empty() {
        return Err(LabError::BusyboxMissing {
            path: path.to_path_buf(),
            reason: format!("`busybox --list` gave no applets ({})", out.status),
        });
    }
    Ok(names)
}

/// An uncompressed tar with the Dockerfile and `rootfs/` (bin/busybox, applet links, tmp).
fn build_context(busybox: &[u8], applets: &[String]) -> std::io::Result<Vec<u8>> {
    let mut tar = tar::Builder::new(Vec::new());
    let file = |path: &str, mode: u32, data: &[u8], tar: &mut tar::Builder<Vec<u8>>| {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(mode);
        header.set_entry_type(tar::EntryType::Regular);
        tar.append_data(&mut header, path, data)
    };
    file("Dockerfile", 0o644, DOCKERFILE.as_bytes(), &mut tar)?;
    for (dir, mode) in [("rootfs/bin/", 0o755), ("rootfs/tmp/", 0o1777)] {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Directory);
        header.set_mode(mode);
        header.set_size(0);
        tar.append_data(&mut header, dir, std::io::empty())?;
    }
    file("rootfs/bin/busybox", 0o755, busybox, &mut tar)?;
    for applet in applets {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Symlink);
        header.set_mode(0o777);
        header.set_size(0);
        tar.append_link(&mut header, format!("rootfs/bin/{applet}"), "busybox")?;
    }
    tar.into_inner()
}

/// Checks that `bytes` is an ELF executable without a program interpreter (static).
fn check_static_elf(bytes: &[u8]) -> Result<(), String> {
    if bytes.get(..4) != Some(b"\x7fELF".as_slice()) {
        return Err("it is not an ELF binary".to_string());
    }
    let little = bytes.get(5) == Some(&1);
    let int = |at: usize, len: usize| -> Option<u64> {
        let raw = bytes.get(at..at + len)?;
        let fold = |acc: u64, b: &u8| (acc << 8) | u64::from(*b);
        Some(if little {
            raw.iter().rev().fold(0, fold)
        } else {
            raw.iter().fold(0, fold)
        })
    };
    let (phoff, phentsize, phnum) = match bytes.get(4) {
        Some(2) => (int(0x20, 8), int(0x36, 2), int(0x38, 2)),
        Some(1) => (int(0x1c, 4), int(0x2a, 2), int(0x2c, 2)),
        _ => (None, None, None),
    };
    let (Some(phoff), Some(phentsize), Some(phnum)) = (phoff, phentsize, phnum) else {
        return Err("its ELF header is truncated or unknown".to_string());
    };
    const PT_INTERP: u64 = 3;
    for i in 0..phnum {
        let at = usize::try_from(phoff + i * phentsize).map_err(|e| e.to_string())?;
        match int(at, 4) {
            Some(PT_INTERP) => return Err("it is dynamically linked, not static".to_string()),
            Some(_) => {}
            None => return Err("its program headers are truncated".to_string()),
        }
    }
    Ok(())
}

/// FNV-1a, 64 bit: a small hash that stays the same across Rust versions.
struct Fnv64(u64);

impl Fnv64 {
    fn new() -> Self {
        Fnv64(0xcbf2_9ce4_8422_2325)
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    fn finish(&self) -> u64 {
        self.0
    }
}
