//! Renders the engine's time reports ([`crate::timing::TimeReport`]) as a table: per layer
//! (provider), the objects changed, the time spent waiting on its system and brick's own time.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::timing::{Phase, TimeReport};

/// `12.3s`, `850ms`, `4m05s`.
pub fn secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s >= 60.0 {
        format!("{}m{:02}s", (s / 60.0) as u64, (s % 60.0) as u64)
    } else if s >= 1.0 {
        format!("{s:.1}s")
    } else {
        format!("{}ms", d.as_millis())
    }
}

/// Sums of several runs' reports, per layer.
#[derive(Default, Debug, Clone)]
pub struct Totals {
    pub layers: BTreeMap<String, (usize, usize, Duration, Duration)>,
    pub wall: Duration,
    pub waited: Duration,
    pub own: Duration,
    pub plan_own: Duration,
    pub apply_own: Duration,
}

impl Totals {
    pub fn of<'a>(reports: impl IntoIterator<Item = &'a TimeReport>) -> Totals {
        let mut t = Totals::default();
        for r in reports {
            t.wall += r.wall;
            t.waited += r.waited;
            t.own += r.own;
            match r.phase {
                Phase::Plan => t.plan_own += r.own,
                Phase::Apply => t.apply_own += r.own,
            }
            for l in &r.layers {
                let e = t.layers.entry(l.provider.clone()).or_default();
                if r.phase == Phase::Apply {
                    e.0 += l.objects;
                    e.3 += l.own;
                }
                e.1 += l.calls;
                e.2 += l.waited;
            }
        }
        t
    }
}

/// The table: one row per layer, then the whole.
pub fn render_table<'a>(reports: impl IntoIterator<Item = &'a TimeReport>) -> String {
    let t = Totals::of(reports);
    let mut rows: Vec<[String; 5]> = vec![[
        "layer (provider)".into(),
        "objects changed".into(),
        "calls".into(),
        "waiting on the system".into(),
        "brick's own (its operations)".into(),
    ]];
    for (p, (objects, calls, waited, own)) in &t.layers {
        rows.push([
            p.clone(),
            objects.to_string(),
            calls.to_string(),
            secs(*waited),
            secs(*own),
        ]);
    }
    let widths: Vec<usize> = (0..5)
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for (n, r) in rows.iter().enumerate() {
        out.push_str("  ");
        for (i, w) in widths.iter().enumerate() {
            if i == 0 {
                out.push_str(&format!("{:<w$}  ", r[i], w = *w));
            } else {
                out.push_str(&format!("{:>w$}  ", r[i], w = *w));
            }
        }
        out = out.trim_end().to_string();
        out.push('\n');
        if n == 0 {
            out.push_str(&format!(
                "  {}\n",
                "-".repeat(widths.iter().sum::<usize>() + 2 * 4)
            ));
        }
    }
    out.push_str(&format!(
        "  all plans and applies: {} wall = {} waiting on the systems + {} brick's own (planning {}, applying {})\n",
        secs(t.wall),
        secs(t.waited),
        secs(t.own),
        secs(t.plan_own),
        secs(t.apply_own),
    ));
    out
}
