//! Language profiles: what a language brings besides its prompts (default keywords, the
//! default category's name and slug), so a Korean blog is configured by `language = "ko"`
//! alone rather than by translating every setting.

/// Language the posts are written in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    /// English.
    #[default]
    En,
    /// Korean.
    Ko,
}

/// A category: the name readers see and the slug in its URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Category {
    /// Display name (`AI 트렌드`).
    pub name: String,
    /// URL slug (`ai-trends`).
    pub slug: String,
}

/// The keywords used when none are configured: the AI-trend beats of the original blog.
const KEYWORDS_EN: &[&str] = &[
    "large language models",
    "AI agents",
    "open-weight models",
    "multimodal AI",
    "AI regulation",
    "AI in healthcare",
    "retrieval-augmented generation",
    "AI chips",
    "on-device small language models",
    "AI safety research",
    "generative video",
    "AI coding assistants",
    "reinforcement learning from human feedback",
    "AI in education",
];

/// The same beats as Korean readers search for them.
const KEYWORDS_KO: &[&str] = &[
    "대규모 언어 모델",
    "AI 에이전트",
    "오픈 웨이트 모델",
    "멀티모달 AI",
    "AI 규제",
    "의료 분야 AI",
    "검색 증강 생성(RAG)",
    "AI 반도체",
    "온디바이스 소형 언어 모델",
    "AI 안전성 연구",
    "생성형 영상 AI",
    "AI 코딩 도우미",
    "인간 피드백 강화학습(RLHF)",
    "교육 분야 AI",
];

impl Language {
    /// ISO 639-1 code.
    pub fn code(self) -> &'static str {
        match self {
            Language::En => "en",
            Language::Ko => "ko",
        }
    }

    /// Parses an ISO 639-1 code this service writes.
    pub fn parse(code: &str) -> Option<Self> {
        match code {
            "en" => Some(Language::En),
            "ko" => Some(Language::Ko),
            _ => None,
        }
    }

    /// Keywords written about when `generation.keywords` is not set.
    pub fn default_keywords(self) -> &'static [&'static str] {
        match self {
            Language::En => KEYWORDS_EN,
            Language::Ko => KEYWORDS_KO,
        }
    }

    /// The category of scheduled posts when `generation.category` is not set. The slug is the
    /// same in every language, so a site that switches language keeps its category URL.
    pub fn default_category(self) -> Category {
        let name = match self {
            Language::En => "AI Trends",
            Language::Ko => "AI 트렌드",
        };
        Category {
            name: name.into(),
            slug: "ai-trends".into(),
        }
    }
}
