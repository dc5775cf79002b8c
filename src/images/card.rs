//! The social card: a 1200×630 PNG of a post's title, category, date and the blog's name, drawn
//! from an SVG (ours or the operator's template) by `resvg`, offline, with fonts that cover
//! Hangul (Debian's Noto Sans CJK, else whatever the system has).
//!
//! Titles wrap between words (Korean too: `keep-all`, as the dashboard does), shrink from
//! 64 px to 40 px to fit four lines, and end in "…" only past that. Widths are measured by
//! laying out every word once at 100 px with the same fonts, then scaled; the final layout is
//! checked against the real text boxes and shrunk again if a line still overflows, so no text
//! leaves its box whatever the font's kerning does.

use std::sync::Arc;

use resvg::tiny_skia;
use resvg::usvg::{self, fontdb};

/// A card's size, pixels: what Open Graph and X want.
pub const WIDTH: u32 = 1200;
/// See [`WIDTH`].
pub const HEIGHT: u32 = 630;
/// Space kept free along every edge, pixels.
pub const MARGIN: f32 = 72.0;

/// Where the title goes.
const TITLE_TOP: f32 = 176.0;
const TITLE_BOTTOM: f32 = HEIGHT as f32 - 132.0;
const SIZES: [f32; 7] = [64.0, 60.0, 56.0, 52.0, 48.0, 44.0, 40.0];
const MAX_LINES: usize = 4;
const LINE_HEIGHT: f32 = 1.22;
const MEASURE_PX: f32 = 100.0;

const FAMILIES: &str = "'Noto Sans CJK KR', 'Noto Sans KR', 'Noto Sans', 'DejaVu Sans', sans-serif";

/// How cards look: `[images]` (blog name, colours, template, fonts).
pub type CardStyle = crate::config::ImagesConfig;

/// What a card shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardText {
    /// The post's title.
    pub title: String,
    /// Its category.
    pub category: String,
    /// Its date, as shown ("2026-12-07").
    pub date: String,
}

impl CardText {
    /// What the card of `post` shows: its title, category and creation day (UTC).
    pub fn of(post: &crate::store::Post) -> Self {
        Self {
            title: post.content.title.clone(),
            category: post.category.clone(),
            date: chrono::DateTime::from_timestamp_millis(post.created_at)
                .unwrap_or_default()
                .format("%Y-%m-%d")
                .to_string(),
        }
    }
}

/// A rendered card.
#[derive(Debug, Clone)]
pub struct Card {
    /// The PNG.
    pub png: Vec<u8>,
    /// The title as laid out, one entry per line.
    pub lines: Vec<String>,
    /// The title's font size, pixels.
    pub font_size: f32,
}

/// Why a card could not be drawn.
#[derive(Debug, thiserror::Error)]
pub enum CardError {
    /// The SVG (a template's, usually) does not parse.
    #[error("the card's SVG is not valid: {0}")]
    Svg(String),
    /// No font could be found.
    #[error("no font to draw the card with: install fonts-noto-cjk or set images.fonts")]
    NoFont,
    /// The pixels could not be encoded.
    #[error("cannot encode the card: {0}")]
    Encode(String),
}

/// Draws cards; holds the fonts (memory-mapped, loaded once). Cheap to clone.
#[derive(Clone)]
pub struct CardRenderer {
    options: Arc<usvg::Options<'static>>,
    style: Arc<CardStyle>,
}

impl std::fmt::Debug for CardRenderer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CardRenderer")
            .field("style", &self.style)
            .finish_non_exhaustive()
    }
}

/// Which parts of the card to draw: all, or only its text (to check where the text lands).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layers {
    /// The whole card.
    All,
    /// Text only, on a transparent canvas.
    TextOnly,
}

impl CardRenderer {
    /// A renderer with `style`'s fonts, then the system's.
    pub fn new(style: CardStyle) -> Result<Self, CardError> {
        let mut db = fontdb::Database::new();
        for file in &style.fonts {
            if file.exists()
                && let Err(e) = db.load_font_file(file)
            {
                tracing::warn!(file = %file.display(), error = %e, "cannot load a card font");
            }
        }
        if db.is_empty() {
            db.load_system_fonts();
        }
        if db.is_empty() {
            return Err(CardError::NoFont);
        }
        let options = usvg::Options {
            fontdb: Arc::new(db),
            font_family: "sans-serif".into(),
            ..usvg::Options::default()
        };
        Ok(Self {
            options: Arc::new(options),
            style: Arc::new(style),
        })
    }

    /// The card as a PNG.
    pub fn render(&self, text: &CardText) -> Result<Card, CardError> {
        self.render_layers(text, Layers::All)
    }

    /// The card, or only its text, as a PNG.
    pub fn render_layers(&self, text: &CardText, layers: Layers) -> Result<Card, CardError> {
        let (pixmap, lines, font_size) = self.draw(text, layers)?;
        let png = pixmap
            .encode_png()
            .map_err(|e| CardError::Encode(e.to_string()))?;
        Ok(Card {
            png,
            lines,
            font_size,
        })
    }

    /// The card's pixels (premultiplied RGBA), its title lines and their size.
    pub fn draw(
        &self,
        text: &CardText,
        layers: Layers,
    ) -> Result<(tiny_skia::Pixmap, Vec<String>, f32), CardError> {
        let (tree, lines, font_size) = self.layout(text, layers)?;
        let mut pixmap = tiny_skia::Pixmap::new(WIDTH, HEIGHT)
            .ok_or_else(|| CardError::Encode("no pixmap".into()))?;
        resvg::render(&tree, tiny_skia::Transform::default(), &mut pixmap.as_mut());
        Ok((pixmap, lines, font_size))
    }

    fn parse(&self, svg: &str) -> Result<usvg::Tree, CardError> {
        usvg::Tree::from_str(svg, &self.options).map_err(|e| CardError::Svg(e.to_string()))
    }

    /// The final tree: the largest size whose lines fit, checked against the real text boxes
    /// (the tree that was checked is the one drawn).
    fn layout(
        &self,
        text: &CardText,
        layers: Layers,
    ) -> Result<(usvg::Tree, Vec<String>, f32), CardError> {
        let words = split_words(text.title.trim());
        let widths = self.measure(&words)?;
        let width = WIDTH as f32 - 2.0 * MARGIN;
        let mut last = None;
        for (i, &size) in SIZES.iter().enumerate() {
            let scale = size / MEASURE_PX;
            let lines = wrap(&words, &widths, width / scale);
            let fits = lines.len() <= MAX_LINES
                && lines.len() as f32 * size * LINE_HEIGHT <= TITLE_BOTTOM - TITLE_TOP;
            let smallest = i + 1 == SIZES.len();
            if !fits && !smallest {
                continue;
            }
            let lines = if fits {
                lines
            } else {
                ellipsize(lines, &words, &widths, width / scale)
            };
            let svg = self.svg(text, &lines, size, layers);
            // The real boxes decide: a line wider than measured (kerning, fallback fonts)
            // sends the layout one size down.
            let tree = self.parse(&svg)?;
            let overflow = (0..lines.len()).any(|n| {
                tree.node_by_id(&format!("title-{n}"))
                    .map(|node| node.abs_bounding_box())
                    .is_some_and(|b| {
                        b.left() < MARGIN - 0.5 || b.right() > WIDTH as f32 - MARGIN + 0.5
                    })
            });
            last = Some((tree, lines, size));
            if !overflow || smallest {
                break;
            }
        }
        Ok(last.expect("at least one size is tried"))
    }

    /// Ink width of every word at [`MEASURE_PX`], plus the width of a space (last), from one
    /// layout of them all.
    fn measure(&self, words: &[Word]) -> Result<Vec<f32>, CardError> {
        let mut svg = format!(
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="100"><g font-family="{FAMILIES}" font-weight="700" font-size="{MEASURE_PX}">"#,
            w = WIDTH * 40
        );
        for (i, w) in words.iter().enumerate() {
            svg.push_str(&format!(
                r#"<text id="w{i}" x="0" y="100">{}</text>"#,
                escape(&w.text)
            ));
        }
        svg.push_str(r#"<text id="sp1" x="0" y="100">i i</text><text id="sp0" x="0" y="100">ii</text></g></svg>"#);
        let tree = self.parse(&svg)?;
        let width = |id: &str| {
            tree.node_by_id(id)
                .map_or(0.0, |n| n.abs_bounding_box().width())
        };
        let mut widths: Vec<f32> = (0..words.len()).map(|i| width(&format!("w{i}"))).collect();
        widths.push((width("sp1") - width("sp0")).max(MEASURE_PX * 0.2));
        Ok(widths)
    }

    fn svg(&self, text: &CardText, lines: &[String], size: f32, layers: Layers) -> String {
        let s = &self.style;
        let title: String = lines
            .iter()
            .enumerate()
            .map(|(n, line)| {
                format!(
                    r#"<text id="title-{n}" x="{MARGIN}" y="{y:.1}">{}</text>"#,
                    escape(line),
                    y = TITLE_TOP + size * (0.9 + n as f32 * LINE_HEIGHT)
                )
            })
            .collect();
        let title = format!(
            r#"<g font-family="{FAMILIES}" font-weight="700" font-size="{size}" fill="{}">{title}</g>"#,
            attr(&s.foreground)
        );
        let (background, accent) = match layers {
            Layers::All => (attr(&s.background), attr(&s.accent)),
            Layers::TextOnly => ("none".into(), "none".into()),
        };
        let fill = |template: &str| {
            template
                .replace("{{width}}", &WIDTH.to_string())
                .replace("{{height}}", &HEIGHT.to_string())
                .replace("{{background}}", &background)
                .replace("{{accent}}", &accent)
                .replace("{{accent_text}}", &attr(&s.accent))
                .replace("{{foreground}}", &attr(&s.foreground))
                .replace("{{muted}}", &attr(&s.muted))
                .replace("{{fonts}}", FAMILIES)
                .replace("{{category}}", &escape(&clip(&text.category, 40)))
                .replace("{{date}}", &escape(&text.date))
                .replace("{{blog}}", &escape(&clip(&s.blog_name, 40)))
                .replace("{{title}}", &title)
        };
        match &s.template {
            Some(t) => fill(t),
            None => fill(BUILT_IN),
        }
    }
}

/// The built-in layout: accent bar on the left, category above the title, blog and date below.
const BUILT_IN: &str = r#"<svg xmlns="http://www.w3.org/2000/svg" width="{{width}}" height="{{height}}" viewBox="0 0 {{width}} {{height}}">
<rect width="{{width}}" height="{{height}}" fill="{{background}}"/>
<rect x="0" y="0" width="16" height="{{height}}" fill="{{accent}}"/>
<g font-family="{{fonts}}">
<text x="72" y="128" font-size="30" font-weight="700" fill="{{accent_text}}">{{category}}</text>
{{title}}
<text x="72" y="560" font-size="28" fill="{{muted}}">{{blog}}</text>
<text x="1128" y="560" font-size="28" fill="{{muted}}" text-anchor="end">{{date}}</text>
</g>
</svg>"#;

/// A unit that is never split: a word, or one character of a word too long for any line.
#[derive(Debug, Clone)]
struct Word {
    text: String,
}

fn split_words(title: &str) -> Vec<Word> {
    title
        .split_whitespace()
        .map(|w| Word { text: w.to_owned() })
        .collect()
}

/// Greedy lines of at most `max` (in measured units); a word longer than a line is broken by
/// characters (the only case where a word is split).
fn wrap(words: &[Word], widths: &[f32], max: f32) -> Vec<String> {
    let space = widths[words.len()];
    let mut lines: Vec<String> = Vec::new();
    let (mut line, mut used) = (String::new(), 0.0f32);
    for (w, &width) in words.iter().zip(widths) {
        if width > max {
            // Too long for any line: share its width evenly among its characters.
            let chars: Vec<char> = w.text.chars().collect();
            let per = width / chars.len().max(1) as f32;
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
                used = 0.0;
            }
            for c in chars {
                if used + per > max && !line.is_empty() {
                    lines.push(std::mem::take(&mut line));
                    used = 0.0;
                }
                line.push(c);
                used += per;
            }
            continue;
        }
        let extra = if line.is_empty() {
            width
        } else {
            space + width
        };
        if used + extra > max && !line.is_empty() {
            lines.push(std::mem::take(&mut line));
            used = 0.0;
            line.push_str(&w.text);
            used += width;
        } else {
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(&w.text);
            used += extra;
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// The first [`MAX_LINES`] lines, the last ending in "…" within `max`.
fn ellipsize(mut lines: Vec<String>, words: &[Word], widths: &[f32], max: f32) -> Vec<String> {
    lines.truncate(MAX_LINES);
    let Some(last) = lines.last_mut() else {
        return lines;
    };
    // Characters' average width from the measured words, an ellipsis about one of them.
    let chars: usize = words.iter().map(|w| w.text.chars().count()).sum();
    let per = widths[..words.len()].iter().sum::<f32>() / chars.max(1) as f32;
    let keep = ((max / per) as usize).saturating_sub(2).max(1);
    let mut cut: String = last.chars().take(keep).collect();
    cut = cut.trim_end().to_owned();
    cut.push('…');
    *last = cut;
    lines
}

fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        let mut c: String = s.chars().take(n - 1).collect();
        c.push('…');
        c
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A colour as an attribute value: whatever the operator wrote, it cannot close the attribute.
fn attr(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_alphanumeric() || "#(),.% -".contains(*c))
        .collect()
}

/// Twenty titles from 5 to 120 characters, Korean and English, some with words longer
/// than a line (the tests' and `blogflow bench cards`' set).
pub fn sample_titles() -> Vec<String> {
    let mut t: Vec<String> = [
        "AI 요약",
        "GPT-5",
        "Agents at work",
        "올해 AI 에이전트는 무엇을 바꿨나",
        "How AI Agents Changed Software Teams",
        "오픈소스 모델이 클라우드 비용 구조를 어떻게 뒤흔들고 있는가",
        "Why small language models now beat giants on the tasks that matter to most companies",
        "반도체 공급망과 생성형 AI: 엔비디아, TSMC, 삼성전자가 그리는 2027년의 지형도와 한국 기업의 기회",
        "Supercalifragilisticexpialidociousandantidisestablishmentarianism",
        "초거대언어모델기반자율에이전트프레임워크비교분석보고서",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let en = "The quiet shift from chatbots to agents that plan act and check their own work across tools teams and budgets in twenty twenty six";
    let ko = "챗봇에서 스스로 계획하고 실행하며 결과를 점검하는 에이전트로의 조용한 전환이 기업의 도구와 팀과 예산을 어떻게 바꾸고 있는지 살펴본다 그리고 다음 단계는 무엇인가 그리고 그 변화는 한국의 중소기업과 개발자들에게 어떤 기회와 위험을 동시에 가져오는가";
    for n in [30, 60, 90, 110, 120] {
        t.push(en.chars().take(n).collect::<String>().trim_end().to_owned());
        t.push(ko.chars().take(n).collect::<String>().trim_end().to_owned());
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    fn renderer() -> CardRenderer {
        CardRenderer::new(CardStyle::default()).expect("a font")
    }

    fn text(title: &str) -> CardText {
        CardText {
            title: title.into(),
            category: "AI Trends".into(),
            date: "2026-12-07".into(),
        }
    }

    #[test]
    fn no_text_leaves_the_card_and_words_stay_whole() {
        let r = renderer();
        let titles = sample_titles();
        assert_eq!(titles.len(), 20);
        for title in &titles {
            let n = title.chars().count();
            assert!((5..=120).contains(&n), "{title}: {n} characters");
            let (pixmap, lines, size) = r.draw(&text(title), Layers::TextOnly).unwrap();
            let (mut inked, mut outside) = (0usize, Vec::new());
            for (i, px) in pixmap.pixels().iter().enumerate() {
                if px.alpha() == 0 {
                    continue;
                }
                inked += 1;
                let (x, y) = ((i as u32 % WIDTH) as f32, (i as u32 / WIDTH) as f32);
                if x < MARGIN - 4.0
                    || x > WIDTH as f32 - MARGIN + 4.0
                    || y < 48.0
                    || y > HEIGHT as f32 - 48.0
                {
                    outside.push((x, y));
                }
            }
            assert!(inked > 2000, "{title}: text was drawn ({inked} pixels)");
            assert!(
                outside.is_empty(),
                "{title} at {size} px: {} pixels outside the safe area, first {:?}; lines {lines:?}",
                outside.len(),
                &outside[..outside.len().min(3)]
            );
            assert!(lines.len() <= MAX_LINES, "{title}: {lines:?}");
            assert!((40.0..=64.0).contains(&size));
            // Every word of a line is a whole word of the title, unless the word cannot fit
            // on any line (then, and only then, it is broken by characters).
            let words: Vec<&str> = title.split_whitespace().collect();
            for line in &lines {
                for w in line.trim_end_matches('…').split_whitespace() {
                    let whole = words.contains(&w);
                    let piece_of_long = words
                        .iter()
                        .any(|t| t.contains(w) && t.chars().count() > 20);
                    let cut_last = line.ends_with('…') && words.iter().any(|t| t.starts_with(w));
                    assert!(
                        whole || piece_of_long || cut_last,
                        "{title}: {w:?} in {lines:?}"
                    );
                }
            }
            if !lines.last().unwrap().ends_with('…')
                && words.iter().all(|w| w.chars().count() <= 20)
            {
                assert_eq!(lines.join(" "), *title, "nothing lost");
            }
        }
    }

    #[test]
    fn short_titles_are_big_and_long_ones_shrink_then_end_in_an_ellipsis() {
        let r = renderer();
        let (_, lines, size) = r.draw(&text("GPT-5"), Layers::All).unwrap();
        assert_eq!((lines.len(), size), (1, 64.0));
        let long = "word ".repeat(60);
        let (_, lines, size) = r.draw(&text(&long), Layers::All).unwrap();
        assert_eq!(size, 40.0);
        assert_eq!(lines.len(), MAX_LINES);
        assert!(lines.last().unwrap().ends_with('…'), "{lines:?}");
    }

    #[test]
    fn the_card_is_a_png_of_its_size_in_its_colours_and_templates_cannot_inject() {
        let r = renderer();
        let card = r
            .render(&text("How AI Agents Changed Software Teams"))
            .unwrap();
        assert!(card.png.starts_with(b"\x89PNG"));
        let pixmap = tiny_skia::Pixmap::decode_png(&card.png).unwrap();
        assert_eq!((pixmap.width(), pixmap.height()), (WIDTH, HEIGHT));
        // Top right corner: the default background #0f172a.
        let px = pixmap.pixel(WIDTH - 5, 5).unwrap();
        assert_eq!((px.red(), px.green(), px.blue()), (0x0f, 0x17, 0x2a));
        // A colour setting cannot close its attribute and add markup.
        let evil = CardRenderer::new(CardStyle {
            background: "red\"/><script>x</script><rect fill=\"".into(),
            ..CardStyle::default()
        })
        .unwrap();
        evil.render(&text("t <b>&amp;</b> \"q\"")).unwrap();
        // An operator's template gets the same placeholders.
        let custom = CardRenderer::new(CardStyle {
            template: Some(r##"<svg xmlns="http://www.w3.org/2000/svg" width="{{width}}" height="{{height}}"><rect width="100%" height="100%" fill="#ffffff"/>{{title}}</svg>"##.into()),
            foreground: "#000000".into(),
            ..CardStyle::default()
        })
        .unwrap();
        let card = custom.render(&text("Template")).unwrap();
        let pixmap = tiny_skia::Pixmap::decode_png(&card.png).unwrap();
        let px = pixmap.pixel(WIDTH - 5, 5).unwrap();
        assert_eq!((px.red(), px.green(), px.blue()), (255, 255, 255));
        let broken = CardRenderer::new(CardStyle {
            template: Some("<svg".into()),
            ..CardStyle::default()
        })
        .unwrap();
        assert!(matches!(broken.render(&text("x")), Err(CardError::Svg(_))));
    }
}
