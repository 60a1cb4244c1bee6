//! The dashboard's 24-hour picture: leads per hour (bars) and the median
//! and 95th-percentile time to draft of each hour's leads (lines), drawn as
//! server-rendered SVG: no script, no chart library, no CDN.

use std::fmt::Write as _;

use chrono::{DateTime, DurationRound, TimeDelta, Utc};

/// One hour of the chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Hour {
    pub start: DateTime<Utc>,
    pub leads: usize,
    /// Seconds from arrival to draft, of the hour's drafted leads.
    pub p50: Option<f64>,
    pub p95: Option<f64>,
}

/// The 24 hours up to and including the current one, from leads'
/// arrival and draft times.
pub fn hours(activity: &[(DateTime<Utc>, Option<DateTime<Utc>>)], now: DateTime<Utc>) -> Vec<Hour> {
    let this_hour = now.duration_trunc(TimeDelta::hours(1)).unwrap_or(now);
    (0..24)
        .rev()
        .map(|back| {
            let start = this_hour - TimeDelta::hours(back);
            let end = start + TimeDelta::hours(1);
            let mut times_ms: Vec<i64> = Vec::new();
            let mut leads = 0;
            for (received, drafted) in activity {
                if *received >= start && *received < end {
                    leads += 1;
                    if let Some(d) = drafted {
                        times_ms.push((*d - *received).num_milliseconds().max(0));
                    }
                }
            }
            let pct = |p: f64| super::percentile(&times_ms, p).map(|ms| ms as f64 / 1000.0);
            Hour {
                start,
                leads,
                p50: pct(0.5),
                p95: pct(0.95),
            }
        })
        .collect()
}

const W: f64 = 720.0;
const H: f64 = 200.0;
const LEFT: f64 = 44.0;
const RIGHT: f64 = 56.0;
const TOP: f64 = 14.0;
const BOTTOM: f64 = 28.0;

/// A short, readable duration for the axis.
fn secs(s: f64) -> String {
    if s < 1.0 {
        format!("{:.0} ms", s * 1000.0)
    } else if s < 120.0 {
        format!("{s:.0} s")
    } else {
        format!("{:.0} min", s / 60.0)
    }
}

/// The chart as an SVG figure, with a text summary for screen readers.
pub fn svg(hours: &[Hour]) -> String {
    let total: usize = hours.iter().map(|h| h.leads).sum();
    let max_leads = hours.iter().map(|h| h.leads).max().unwrap_or(0).max(1) as f64;
    let max_time = hours
        .iter()
        .filter_map(|h| h.p95)
        .fold(0.0_f64, f64::max)
        .max(0.001);
    let plot_w = W - LEFT - RIGHT;
    let plot_h = H - TOP - BOTTOM;
    let slot = plot_w / hours.len().max(1) as f64;
    let x = |i: usize| LEFT + slot * i as f64;
    let y_leads = |n: f64| TOP + plot_h - n / max_leads * plot_h;
    let y_time = |s: f64| TOP + plot_h - s / max_time * plot_h;

    let mut out = String::new();
    let _ = write!(
        out,
        "<figure class=\"chart\"><svg viewBox=\"0 0 {W} {H}\" role=\"img\" aria-labelledby=\"chart-title\" preserveAspectRatio=\"xMidYMid meet\">\
         <title id=\"chart-title\">Leads per hour and time to draft, last 24 hours</title>"
    );
    // Axes and grid.
    let _ = write!(
        out,
        "<line class=\"axis\" x1=\"{LEFT}\" y1=\"{b}\" x2=\"{r}\" y2=\"{b}\"/>\
         <text class=\"tick\" x=\"{lx}\" y=\"{ty}\" text-anchor=\"end\">{ml}</text><text class=\"tick\" x=\"{lx}\" y=\"{b}\" text-anchor=\"end\">0</text>\
         <text class=\"tick\" x=\"{rx}\" y=\"{ty}\">{mt}</text>",
        b = TOP + plot_h,
        r = W - RIGHT,
        lx = LEFT - 6.0,
        ty = TOP + 4.0,
        ml = max_leads as usize,
        rx = W - RIGHT + 6.0,
        mt = secs(max_time),
    );
    for (i, h) in hours.iter().enumerate() {
        if h.leads > 0 {
            let top = y_leads(h.leads as f64);
            let _ = write!(
                out,
                "<rect class=\"bar\" x=\"{:.1}\" y=\"{top:.1}\" width=\"{:.1}\" height=\"{:.1}\"><title>{}: {} lead(s)</title></rect>",
                x(i) + slot * 0.15,
                slot * 0.7,
                TOP + plot_h - top,
                h.start.format("%H:00"),
                h.leads
            );
        }
        if i % 6 == 0 {
            let _ = write!(
                out,
                "<text class=\"tick\" x=\"{:.1}\" y=\"{:.1}\">{}</text>",
                x(i),
                H - 8.0,
                h.start.format("%H:00")
            );
        }
    }
    for (class, pick) in [
        ("p50", (|h: &Hour| h.p50) as fn(&Hour) -> Option<f64>),
        ("p95", |h: &Hour| h.p95),
    ] {
        let points: Vec<String> = hours
            .iter()
            .enumerate()
            .filter_map(|(i, h)| {
                pick(h).map(|s| format!("{:.1},{:.1}", x(i) + slot / 2.0, y_time(s)))
            })
            .collect();
        if !points.is_empty() {
            let _ = write!(
                out,
                "<polyline class=\"{class}\" fill=\"none\" points=\"{}\"/>",
                points.join(" ")
            );
            // A dot per hour: an hour on its own is a point, not a line.
            for p in &points {
                let (cx, cy) = p.split_once(',').unwrap_or(("0", "0"));
                let _ = write!(
                    out,
                    "<circle class=\"{class}\" cx=\"{cx}\" cy=\"{cy}\" r=\"3\"/>"
                );
            }
        }
    }
    let p95 = hours
        .iter()
        .filter_map(|h| h.p95)
        .fold(None::<f64>, |m, v| Some(m.map_or(v, |m| m.max(v))));
    let _ = write!(
        out,
        "</svg><figcaption>Last 24 hours (UTC): <span class=\"key bar\"></span> {total} lead(s) · \
         <span class=\"key p50\"></span> median and <span class=\"key p95\"></span> 95th percentile time to draft per hour{}</figcaption></figure>",
        p95.map(|s| format!(" (worst hour's p95: {})", secs(s)))
            .unwrap_or_default()
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn buckets_by_hour_with_percentiles() {
        let now = Utc.with_ymd_and_hms(2026, 12, 5, 10, 30, 0).unwrap();
        let at = |h: u32, m: u32| Utc.with_ymd_and_hms(2026, 12, 5, h, m, 0).unwrap();
        let activity = vec![
            (at(10, 5), Some(at(10, 5) + TimeDelta::seconds(2))),
            (at(10, 6), Some(at(10, 6) + TimeDelta::seconds(4))),
            (at(10, 7), None),
            (at(9, 59), Some(at(9, 59) + TimeDelta::seconds(60))),
            (at(3, 0) - TimeDelta::days(1), None), // outside the 24 hours
        ];
        let hours = hours(&activity, now);
        assert_eq!(hours.len(), 24);
        let last = &hours[23];
        assert_eq!((last.start, last.leads), (at(10, 0), 3));
        assert_eq!((last.p50, last.p95), (Some(4.0), Some(4.0)));
        assert_eq!((hours[22].leads, hours[22].p50), (1, Some(60.0)));
        assert_eq!(hours.iter().map(|h| h.leads).sum::<usize>(), 4);
        let svg = svg(&hours);
        assert_eq!(svg.matches("<rect class=\"bar\"").count(), 2);
        assert!(svg.contains("<polyline class=\"p50\"") && svg.contains("<polyline class=\"p95\""));
        assert!(
            svg.contains("4 lead(s)") && svg.contains("worst hour's p95: 60 s"),
            "{svg}"
        );
    }

    #[test]
    fn an_empty_day_draws_axes_only() {
        let now = Utc.with_ymd_and_hms(2026, 12, 5, 10, 30, 0).unwrap();
        let svg = svg(&hours(&[], now));
        assert!(svg.contains("0 lead(s)") && !svg.contains("<rect") && !svg.contains("<polyline"));
    }
}
