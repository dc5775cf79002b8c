//! Queue names of the original system; every job type lives in exactly one of them.

/// Post generation (`content_generation` jobs).
pub const CONTENT_GENERATION: &str = "content-generation";
/// Publishing finished posts (`blog_publish` jobs).
pub const BLOG_PUBLISHING: &str = "blog-publishing";
/// Cleanup, health checks and other housekeeping.
pub const SYSTEM_MAINTENANCE: &str = "system-maintenance";
/// All queues, in the order the dashboard shows them.
pub const ALL: [&str; 3] = [CONTENT_GENERATION, BLOG_PUBLISHING, SYSTEM_MAINTENANCE];

/// The closed set of job types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobType {
    /// Write posts.
    ContentGeneration,
    /// Publish one post.
    BlogPublish,
    /// Housekeeping.
    Cleanup,
    /// Provider and target checks.
    HealthCheck,
    /// Another try at sending alerts to a channel.
    AlertDelivery,
}

impl JobType {
    /// Name stored with the job.
    pub fn name(self) -> &'static str {
        match self {
            JobType::ContentGeneration => "content_generation",
            JobType::BlogPublish => "blog_publish",
            JobType::Cleanup => "cleanup",
            JobType::HealthCheck => "health_check",
            JobType::AlertDelivery => "alert_delivery",
        }
    }

    /// Parses a stored name.
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "content_generation" => JobType::ContentGeneration,
            "blog_publish" => JobType::BlogPublish,
            "cleanup" => JobType::Cleanup,
            "health_check" => JobType::HealthCheck,
            "alert_delivery" => JobType::AlertDelivery,
            _ => return None,
        })
    }

    /// The queue it runs in.
    pub fn queue(self) -> &'static str {
        match self {
            JobType::ContentGeneration => CONTENT_GENERATION,
            JobType::BlogPublish => BLOG_PUBLISHING,
            JobType::Cleanup | JobType::HealthCheck | JobType::AlertDelivery => SYSTEM_MAINTENANCE,
        }
    }
}
