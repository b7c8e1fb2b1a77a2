//! The vulnerabilities-over-time chart: open findings by severity across all images, as
//! an inline SVG (no script, no external resource), one line per severity, with axes, a
//! legend and a `<title>` on every point so the values show on hover.

use std::fmt::Write;

use super::html::{self, Esc};
use super::queries::{Counts, SEVERITIES};

/// The colour of each severity's line, in the order of [`SEVERITIES`].
const COLOURS: [&str; 5] = ["#7f1d1d", "#dc2626", "#f59e0b", "#2563eb", "#6b7280"];

const WIDTH: f64 = 760.0;
const HEIGHT: f64 = 280.0;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 130.0;
const TOP: f64 = 16.0;
const BOTTOM: f64 = 40.0;

/// The most points drawn; longer series are thinned (keeping the first and last).
pub const MAX_POINTS: usize = 400;

/// The smallest "nice" number (1, 2 or 5 times a power of ten) at or above `n`, at least 1.
fn nice_ceiling(n: i64) -> i64 {
    let mut step = 1i64;
    loop {
        for m in [1, 2, 5] {
            let v = step.saturating_mul(m);
            if v >= n || v == i64::MAX {
                return v.max(1);
            }
        }
        step = step.saturating_mul(10);
    }
}

/// `points` reduced to at most [`MAX_POINTS`], evenly, keeping the first and the last.
pub fn thin(points: &[(i64, Counts)]) -> Vec<(i64, Counts)> {
    if points.len() <= MAX_POINTS {
        return points.to_vec();
    }
    let last = points.len() - 1;
    (0..MAX_POINTS)
        .map(|i| points[i * last / (MAX_POINTS - 1)])
        .collect()
}

/// The SVG of `points` (time in Unix milliseconds, counts then in force), oldest first.
/// `None` when there is nothing to draw.
pub fn severity_chart(points: &[(i64, Counts)]) -> Option<String> {
    let points = thin(points);
    let (first, last) = (points.first()?.0, points.last()?.0);
    let max = points.iter().flat_map(|(_, c)| c.0).max().unwrap_or(0);
    let top = nice_ceiling(max);
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let span = (last - first).max(1) as f64;
    let x = |t: i64| {
        if first == last {
            LEFT + plot_w / 2.0
        } else {
            LEFT + (t - first) as f64 / span * plot_w
        }
    };
    let y = |v: i64| TOP + plot_h - v as f64 / top as f64 * plot_h;

    let mut s = String::new();
    let _ = write!(
        s,
        "<svg id=\"severity-chart\" xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" \
         width=\"{WIDTH}\" height=\"{HEIGHT}\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" \
         aria-labelledby=\"severity-chart-title\" font-family=\"sans-serif\" font-size=\"11\">\
         <title id=\"severity-chart-title\">Open findings by severity over time, from {} to {}</title>",
        html::time(first),
        html::time(last)
    );
    // Horizontal grid lines with their values: 0, half and the top.
    for v in [0, top / 2, top] {
        let yv = y(v);
        let _ = write!(
            s,
            "<line x1=\"{LEFT}\" y1=\"{yv:.1}\" x2=\"{:.1}\" y2=\"{yv:.1}\" stroke=\"#e5e7eb\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{v}</text>",
            LEFT + plot_w,
            LEFT - 6.0,
            yv + 4.0
        );
    }
    // The time axis: first and last instants.
    let axis_y = TOP + plot_h;
    let _ = write!(
        s,
        "<line x1=\"{LEFT}\" y1=\"{axis_y}\" x2=\"{:.1}\" y2=\"{axis_y}\" stroke=\"#6b7280\"/>\
         <text x=\"{LEFT}\" y=\"{:.1}\" text-anchor=\"start\">{}</text>\
         <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
        LEFT + plot_w,
        axis_y + 16.0,
        Esc(&html::time(first)),
        LEFT + plot_w,
        axis_y + 16.0,
        Esc(&html::time(last)),
    );
    // One line per severity, drawn least severe first so critical is on top.
    for i in (0..SEVERITIES.len()).rev() {
        let (name, colour) = (SEVERITIES[i], COLOURS[i]);
        let path: Vec<String> = points
            .iter()
            .map(|(t, c)| format!("{:.1},{:.1}", x(*t), y(c.0[i])))
            .collect();
        let _ = write!(
            s,
            "<g class=\"series\" data-severity=\"{name}\"><polyline fill=\"none\" \
             stroke=\"{colour}\" stroke-width=\"2\" points=\"{}\"/>",
            path.join(" ")
        );
        for (t, c) in &points {
            let _ = write!(
                s,
                "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"2.5\" fill=\"{colour}\">\
                 <title>{}: {} {name}</title></circle>",
                x(*t),
                y(c.0[i]),
                html::time(*t),
                c.0[i]
            );
        }
        s.push_str("</g>");
    }
    // The legend, most severe first, with the latest value.
    let latest = points.last().map(|p| p.1).unwrap_or_default();
    for (i, (name, colour)) in SEVERITIES.iter().zip(COLOURS).enumerate() {
        let ly = TOP + 10.0 + i as f64 * 18.0;
        let lx = WIDTH - RIGHT + 14.0;
        let _ = write!(
            s,
            "<rect x=\"{lx}\" y=\"{:.1}\" width=\"12\" height=\"12\" fill=\"{colour}\"/>\
             <text x=\"{:.1}\" y=\"{ly:.1}\">{name} ({})</text>",
            ly - 10.0,
            lx + 18.0,
            latest.0[i]
        );
    }
    s.push_str("</svg>");
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_ceilings() {
        assert_eq!(nice_ceiling(0), 1);
        assert_eq!(nice_ceiling(1), 1);
        assert_eq!(nice_ceiling(3), 5);
        assert_eq!(nice_ceiling(7), 10);
        assert_eq!(nice_ceiling(11), 20);
        assert_eq!(nice_ceiling(480), 500);
        assert_eq!(nice_ceiling(501), 1000);
        assert!(nice_ceiling(i64::MAX) >= 1);
    }

    #[test]
    fn no_points_no_chart() {
        assert_eq!(severity_chart(&[]), None);
    }

    #[test]
    fn draws_one_line_per_severity_with_titles() {
        let svg = severity_chart(&[
            (1_700_000_000_000, Counts([1, 2, 0, 0, 0])),
            (1_700_000_060_000, Counts([3, 2, 1, 0, 4])),
        ])
        .unwrap();
        assert!(svg.starts_with("<svg id=\"severity-chart\""));
        assert!(svg.ends_with("</svg>"));
        assert_eq!(svg.matches("<polyline").count(), 5);
        assert_eq!(svg.matches("<circle").count(), 10);
        assert!(svg.contains("2023-11-14 22:14:20: 3 critical"));
        assert!(svg.contains("critical (3)"));
        assert!(svg.contains("unknown (4)"));
        assert!(!svg.contains("NaN") && !svg.contains("inf"));
    }

    #[test]
    fn a_single_point_is_centred_and_finite() {
        let svg = severity_chart(&[(5, Counts::default())]).unwrap();
        assert!(!svg.contains("NaN") && !svg.contains("inf"), "{svg}");
        assert_eq!(svg.matches("<circle").count(), 5);
    }

    #[test]
    fn long_series_are_thinned_keeping_the_ends() {
        let points: Vec<_> = (0..5000).map(|t| (t, Counts([t, 0, 0, 0, 0]))).collect();
        let thinned = thin(&points);
        assert_eq!(thinned.len(), MAX_POINTS);
        assert_eq!(thinned.first().unwrap().0, 0);
        assert_eq!(thinned.last().unwrap().0, 4999);
    }
}
