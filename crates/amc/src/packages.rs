//! Skill packages as the agent endpoint reads them: objects of the skill bucket in amc's local
//! object directory (`<objects dir>/<bucket>/<key>`), streamed in pieces.

use std::io;
use std::path::{Component, Path, PathBuf};

use agent_endpoint::{PackageBytes, Packages};
use futures::future::BoxFuture;
use tokio::io::AsyncReadExt;

/// The size of each piece a package streams in.
const PIECE: usize = 64 * 1024;

pub struct LocalPackages {
    pub bucket_dir: PathBuf,
}

impl LocalPackages {
    pub fn new(objects_dir: &Path) -> LocalPackages {
        LocalPackages {
            bucket_dir: objects_dir.join(domain::skills::BUCKET),
        }
    }
}

impl Packages for LocalPackages {
    fn open<'a>(
        &'a self,
        object_key: &'a str,
    ) -> BoxFuture<'a, Result<Option<(u64, PackageBytes)>, io::Error>> {
        Box::pin(async move {
            let relative = Path::new(object_key);
            if !relative
                .components()
                .all(|c| matches!(c, Component::Normal(_)))
            {
                return Ok(None);
            }
            let file = match tokio::fs::File::open(self.bucket_dir.join(relative)).await {
                Ok(file) => file,
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(e),
            };
            let size = file.metadata().await?.len();
            let pieces = futures::stream::unfold(Some(file), |file| async move {
                let mut file = file?;
                let mut piece = vec![0; PIECE];
                match file.read(&mut piece).await {
                    Ok(0) => None,
                    Ok(read) => {
                        piece.truncate(read);
                        Some((Ok(bytes::Bytes::from(piece)), Some(file)))
                    }
                    Err(e) => Some((Err(e), None)),
                }
            });
            Ok(Some((size, Box::pin(pieces) as PackageBytes)))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;

    #[tokio::test]
    async fn streams_a_package_and_refuses_keys_that_leave_the_bucket() -> io::Result<()> {
        let dir = std::env::temp_dir().join(format!("amc-packages-{}", std::process::id()));
        let packages = LocalPackages::new(&dir);
        let key = "tenants/t-1/skill/weather.zip";
        let path = packages.bucket_dir.join(key);
        std::fs::create_dir_all(path.parent().unwrap_or(&dir))?;
        let contents: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &contents)?;
        std::fs::write(dir.join("secret"), b"outside")?;

        let (size, mut stream) = packages.open(key).await?.ok_or(io::ErrorKind::NotFound)?;
        assert_eq!(size, contents.len() as u64);
        let mut read = Vec::new();
        while let Some(piece) = stream.next().await {
            read.extend_from_slice(&piece?);
        }
        assert_eq!(read, contents);
        assert!(packages.open("../secret").await?.is_none());
        assert!(packages.open("/etc/passwd").await?.is_none());
        assert!(packages.open("tenants/missing.zip").await?.is_none());
        let _ = std::fs::remove_dir_all(&dir);
        Ok(())
    }
}
