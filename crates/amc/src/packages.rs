//! Skill packages as the agent endpoint reads them: objects of the skill bucket in amc's object
//! store, streamed as the store yields them.

use std::io;
use std::sync::Arc;

use agent_endpoint::{PackageBytes, Packages};
use futures::TryStreamExt;
use futures::future::BoxFuture;
use object_store::ObjectStore;

pub struct ObjectPackages {
    pub objects: Arc<dyn ObjectStore>,
}

impl Packages for ObjectPackages {
    fn open<'a>(
        &'a self,
        object_key: &'a str,
    ) -> BoxFuture<'a, Result<Option<(u64, PackageBytes)>, io::Error>> {
        Box::pin(async move {
            if !oss::valid_object_key(object_key) {
                return Ok(None);
            }
            let Ok(path) = upload::objects::object_path(domain::skills::BUCKET, object_key) else {
                return Ok(None);
            };
            match self.objects.get(&path).await {
                Ok(got) => {
                    let size = got.meta.size;
                    let pieces = got.into_stream().map_err(io::Error::other);
                    Ok(Some((size, Box::pin(pieces) as PackageBytes)))
                }
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(io::Error::other(e)),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;
    use object_store::PutPayload;

    #[tokio::test]
    async fn streams_a_package_and_refuses_keys_that_leave_the_bucket() -> anyhow::Result<()> {
        let dir = std::env::temp_dir().join(format!("amc-packages-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let objects: Arc<dyn ObjectStore> =
            Arc::new(object_store::local::LocalFileSystem::new_with_prefix(&dir)?);
        let packages = ObjectPackages {
            objects: objects.clone(),
        };
        let key = "tenants/t-1/skill/weather.zip";
        let contents: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        objects
            .put(
                &upload::objects::object_path(domain::skills::BUCKET, key)?,
                PutPayload::from(contents.clone()),
            )
            .await?;
        std::fs::write(dir.join("secret"), b"outside")?;

        let (size, mut stream) = packages
            .open(key)
            .await?
            .ok_or_else(|| anyhow::anyhow!("the package is missing"))?;
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
