//! Ages and durations as upstream prints them (k8s.io/apimachinery/pkg/util/duration).

use jiff::SignedDuration;

pub(super) const NS_PER_SEC: i128 = 1_000_000_000;
const NS_PER_MIN: i128 = 60 * NS_PER_SEC;
const NS_PER_HOUR: i128 = 60 * NS_PER_MIN;

/// Upstream's `duration.HumanDuration`: ~2–3 significant figures (`45s`, `3m20s`, `5h`, `2d3h`,
/// `400d`, `3y20d`); `<invalid>` for more than a second in the future.
pub fn human_duration(d: SignedDuration) -> String {
    human_duration_nanos(d.as_nanos())
}

pub(super) fn human_duration_nanos(d: i128) -> String {
    let seconds = d / NS_PER_SEC;
    if seconds < -1 {
        return "<invalid>".into();
    } else if seconds < 0 {
        return "0s".into();
    } else if seconds < 60 * 2 {
        return format!("{seconds}s");
    }
    let minutes = d / NS_PER_MIN;
    if minutes < 10 {
        let s = (d / NS_PER_SEC) % 60;
        if s == 0 {
            return format!("{minutes}m");
        }
        return format!("{minutes}m{s}s");
    } else if minutes < 60 * 3 {
        return format!("{minutes}m");
    }
    let hours = d / NS_PER_HOUR;
    if hours < 8 {
        let m = (d / NS_PER_MIN) % 60;
        if m == 0 {
            return format!("{hours}h");
        }
        format!("{hours}h{m}m")
    } else if hours < 48 {
        format!("{hours}h")
    } else if hours < 24 * 8 {
        let h = hours % 24;
        if h == 0 {
            return format!("{}d", hours / 24);
        }
        format!("{}d{}h", hours / 24, h)
    } else if hours < 24 * 365 * 2 {
        format!("{}d", hours / 24)
    } else if hours < 24 * 365 * 8 {
        let dy = (hours / 24) % 365;
        if dy == 0 {
            return format!("{}y", hours / 24 / 365);
        }
        format!("{}y{}d", hours / 24 / 365, dy)
    } else {
        format!("{}y", hours / 24 / 365)
    }
}

/// Upstream's `duration.ShortHumanDuration`: one unit (`45s`, `3m`, `5h`, `2d`, `1y`).
pub fn short_human_duration(d: SignedDuration) -> String {
    let d = d.as_nanos();
    let seconds = d / NS_PER_SEC;
    if seconds < -1 {
        "<invalid>".into()
    } else if seconds < 0 {
        "0s".into()
    } else if seconds < 60 {
        format!("{seconds}s")
    } else if d / NS_PER_MIN < 60 {
        format!("{}m", d / NS_PER_MIN)
    } else if d / NS_PER_HOUR < 24 {
        format!("{}h", d / NS_PER_HOUR)
    } else if d / NS_PER_HOUR < 24 * 365 {
        format!("{}d", d / NS_PER_HOUR / 24)
    } else {
        format!("{}y", d / NS_PER_HOUR / 24 / 365)
    }
}
