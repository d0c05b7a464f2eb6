//! Chart geometry for the stats page: pure functions from numbers to the
//! values of SVG elements (coordinates, sizes, tick labels), rounded to a
//! tenth of a pixel. Nothing here reads the store, knows a category or a
//! severity, or writes markup: the template draws what these return, and
//! every `style` is a CSS class (the pages' CSP allows no inline style).
//!
//! Two drawing areas share the [`WIDTH`]-wide view box:
//! - the week charts (bars and lines): [`HEIGHT`] high, weeks along x in
//!   equal bands, values up the y axis from 0 to a "nice" top;
//! - the share chart (one horizontal bar per row, 0–100 %): [`SHARE_HEIGHT`]
//!   high, row labels at the left.

/// The view box's width, for every chart.
pub(crate) const WIDTH: f64 = 720.0;
/// The week charts' view box height.
pub(crate) const HEIGHT: f64 = 300.0;
/// Left margin of a week chart: the y ticks and the y axis' title.
pub(crate) const LEFT: f64 = 60.0;
/// Top margin of a week chart.
pub(crate) const TOP: f64 = 20.0;
/// Width of a week chart's plot area (720 − 60 left − 20 right).
pub(crate) const PLOT_W: f64 = 640.0;
/// Height of a week chart's plot area (300 − 20 top − 60 bottom).
pub(crate) const PLOT_H: f64 = 220.0;
/// Bottom of the plot area (the x axis).
pub(crate) const BASE: f64 = TOP + PLOT_H;
/// The most week labels under the x axis: past it, every n-th is shown.
const MAX_X_LABELS: usize = 12;

/// Left edge of the share chart's bars (the row labels are at its left).
pub(crate) const SHARE_LEFT: f64 = 240.0;
/// Width of the share chart's 0–100 % scale.
pub(crate) const SHARE_W: f64 = 360.0;
/// Height of one row of the share chart.
pub(crate) const SHARE_ROW: f64 = 40.0;
/// Height of a share bar.
const SHARE_BAR: f64 = 24.0;

/// Rounds to a tenth of a pixel.
fn r1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

/// A number as a tick shows it: no trailing `.0`.
pub(crate) fn number(v: f64) -> String {
    let v = r1(v);
    if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v}")
    }
}

/// A y axis: the value at the top of the plot and its ticks.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct YAxis {
    /// The value at the top of the plot area.
    pub top: f64,
    /// Ticks from 0 up.
    pub ticks: Vec<Tick>,
}

/// A tick of an axis: where it is (y for a y axis, x for an x axis) and
/// its label.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Tick {
    pub at: f64,
    pub label: String,
}

/// The y axis for values up to `max`: at most five steps of 1, 2 or 5
/// times a power of ten (never below 1), from 0 to the first step at or
/// above `max`. An empty or all-zero series gets 0 to 1.
pub(crate) fn y_axis(max: f64) -> YAxis {
    let max = if max.is_finite() && max > 0.0 {
        max
    } else {
        1.0
    };
    let mut power = 1.0;
    let (top, step) = loop {
        let found = [1.0, 2.0, 5.0].into_iter().find_map(|m| {
            let step = m * power;
            let steps = (max / step).ceil();
            (steps <= 5.0).then_some((steps * step, step))
        });
        if let Some(found) = found {
            break found;
        }
        power *= 10.0;
    };
    let n = (top / step).round() as usize;
    let ticks = (0..=n)
        .map(|i| {
            let value = i as f64 * step;
            Tick {
                at: y_of(value, top),
                label: number(value),
            }
        })
        .collect();
    YAxis { top, ticks }
}

/// The y of `value` on a week chart whose axis tops at `top`.
pub(crate) fn y_of(value: f64, top: f64) -> f64 {
    r1(BASE - PLOT_H * value / top)
}

/// One week's band along x: where its bar goes and where its label is.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Band {
    /// Left edge of the bar (a fifth of the band in).
    pub x: f64,
    /// Width of the bar (three fifths of the band).
    pub width: f64,
    /// Middle of the band (a line's point, the label).
    pub center: f64,
    /// Whether this band's label is shown (every n-th when there are many).
    pub labelled: bool,
}

/// `n` equal bands across the plot area.
pub(crate) fn bands(n: usize) -> Vec<Band> {
    if n == 0 {
        return Vec::new();
    }
    let band = PLOT_W / n as f64;
    let every = n.div_ceil(MAX_X_LABELS);
    (0..n)
        .map(|i| Band {
            x: r1(LEFT + i as f64 * band + band * 0.2),
            width: r1(band * 0.6),
            center: r1(LEFT + (i as f64 + 0.5) * band),
            labelled: i % every == 0,
        })
        .collect()
}

/// One rectangle of a stacked bar.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Segment {
    /// The column (week) it belongs to.
    pub column: usize,
    /// The series (category) it shows.
    pub series: usize,
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
    /// The count it stands for.
    pub value: u64,
}

/// Stacked bars: `columns[i][j]` is series `j`'s count in column `i`.
/// Series are stacked from the x axis up in index order; a zero count
/// draws nothing. Returns the y axis (up to the tallest column) and the
/// segments.
pub(crate) fn stacked(columns: &[Vec<u64>]) -> (YAxis, Vec<Segment>) {
    let tallest = columns
        .iter()
        .map(|c| c.iter().sum::<u64>())
        .max()
        .unwrap_or(0);
    let axis = y_axis(tallest as f64);
    let mut segments = Vec::new();
    for ((column, values), band) in columns.iter().enumerate().zip(bands(columns.len())) {
        let mut below = 0u64;
        for (series, &value) in values.iter().enumerate() {
            if value == 0 {
                continue;
            }
            let y = y_of((below + value) as f64, axis.top);
            let bottom = y_of(below as f64, axis.top);
            segments.push(Segment {
                column,
                series,
                x: band.x,
                y,
                width: band.width,
                height: r1(bottom - y),
                value,
            });
            below += value;
        }
    }
    (axis, segments)
}

/// A point of a line.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Point {
    /// The column (week) it belongs to.
    pub column: usize,
    pub x: f64,
    pub y: f64,
}

/// One series of a line chart: its points, and the `points` attribute of
/// each unbroken run of two or more (a week without a value breaks the
/// line; a lone point is drawn as its marker only).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Line {
    pub points: Vec<Point>,
    pub runs: Vec<String>,
}

/// Lines over the week bands: `series[j][i]` is series `j`'s value in
/// column `i` (`None`: no value that week). All series share one y axis,
/// up to the largest value.
pub(crate) fn lines(series: &[Vec<Option<f64>>]) -> (YAxis, Vec<Line>) {
    let max = series
        .iter()
        .flatten()
        .flatten()
        .copied()
        .fold(0.0, f64::max);
    let axis = y_axis(max);
    let columns = series.iter().map(Vec::len).max().unwrap_or(0);
    let bands = bands(columns);
    let lines = series
        .iter()
        .map(|values| {
            let mut points = Vec::new();
            let mut runs = Vec::new();
            let mut run: Vec<String> = Vec::new();
            for (column, value) in values.iter().enumerate() {
                match value {
                    Some(v) => {
                        let p = Point {
                            column,
                            x: bands[column].center,
                            y: y_of(*v, axis.top),
                        };
                        run.push(format!("{},{}", number(p.x), number(p.y)));
                        points.push(p);
                    }
                    None => {
                        if run.len() > 1 {
                            runs.push(run.join(" "));
                        }
                        run.clear();
                    }
                }
            }
            if run.len() > 1 {
                runs.push(run.join(" "));
            }
            Line { points, runs }
        })
        .collect();
    (axis, lines)
}

/// A marker's shape, so that a series is told apart without its colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    Square,
    Diamond,
    TriangleUp,
    TriangleDown,
}

/// The `points` of a polygon marker of `shape` centred on (`x`, `y`),
/// about 10 pixels across.
pub(crate) fn marker(shape: Shape, x: f64, y: f64) -> String {
    let offsets: &[(f64, f64)] = match shape {
        Shape::Square => &[(-4.0, -4.0), (4.0, -4.0), (4.0, 4.0), (-4.0, 4.0)],
        Shape::Diamond => &[(0.0, -5.0), (5.0, 0.0), (0.0, 5.0), (-5.0, 0.0)],
        Shape::TriangleUp => &[(0.0, -5.0), (5.0, 4.0), (-5.0, 4.0)],
        Shape::TriangleDown => &[(-5.0, -4.0), (5.0, -4.0), (0.0, 5.0)],
    };
    offsets
        .iter()
        .map(|(dx, dy)| format!("{},{}", number(x + dx), number(y + dy)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// One row of the share chart.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ShareBar {
    /// Top of the row's bar.
    pub y: f64,
    /// Width of the bar (0 for a share of 0 or no share).
    pub width: f64,
    /// Baseline of the row's label and of its value's text.
    pub text_y: f64,
    /// Where the value's text starts (just right of the bar).
    pub text_x: f64,
}

/// The share chart's bars: `shares[i]` is row `i`'s share, 0.0–1.0
/// (`None`: nothing to measure; no bar).
pub(crate) fn share_bars(shares: &[Option<f64>]) -> Vec<ShareBar> {
    shares
        .iter()
        .enumerate()
        .map(|(i, share)| {
            let row = TOP + i as f64 * SHARE_ROW;
            let width = r1(SHARE_W * share.unwrap_or(0.0).clamp(0.0, 1.0));
            ShareBar {
                y: r1(row + (SHARE_ROW - SHARE_BAR) / 2.0),
                width,
                text_y: r1(row + SHARE_ROW / 2.0 + 4.0),
                text_x: r1(SHARE_LEFT + width + 6.0),
            }
        })
        .collect()
}

/// The share chart's x ticks: 0, 25, 50, 75 and 100 %.
pub(crate) fn share_ticks() -> Vec<Tick> {
    (0..=4)
        .map(|i| Tick {
            at: r1(SHARE_LEFT + SHARE_W * i as f64 / 4.0),
            label: format!("{}%", i * 25),
        })
        .collect()
}

/// The share chart's view box height for `rows` rows: the rows, and 20
/// above and 50 below for the x axis and its title.
pub(crate) fn share_height(rows: usize) -> f64 {
    TOP + rows as f64 * SHARE_ROW + 50.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ticks(axis: &YAxis) -> Vec<(f64, &str)> {
        axis.ticks
            .iter()
            .map(|t| (t.at, t.label.as_str()))
            .collect()
    }

    #[test]
    fn y_axes_top_at_a_nice_step() {
        // max 3: steps of 1 to 3; the plot is 220 high from y = 20 to 240.
        let a = y_axis(3.0);
        assert_eq!(a.top, 3.0);
        assert_eq!(
            ticks(&a),
            [(240.0, "0"), (166.7, "1"), (93.3, "2"), (20.0, "3")]
        );
        // max 7: steps of 2 to 8.
        let a = y_axis(7.0);
        assert_eq!(a.top, 8.0);
        assert_eq!(
            ticks(&a),
            [
                (240.0, "0"),
                (185.0, "2"),
                (130.0, "4"),
                (75.0, "6"),
                (20.0, "8")
            ]
        );
        // max 12: steps of 5 to 15 (six steps of 2 would be too many).
        assert_eq!(y_axis(12.0).top, 15.0);
        // max 5: five steps of 1.
        assert_eq!(y_axis(5.0).top, 5.0);
        // max 230: steps of 50 to 250.
        assert_eq!(y_axis(230.0).top, 250.0);
        // Fractions round up to whole steps of at least 1.
        assert_eq!(ticks(&y_axis(0.4)), [(240.0, "0"), (20.0, "1")]);
        // Nothing at all: 0 to 1.
        assert_eq!(y_axis(0.0).top, 1.0);
        assert_eq!(y_axis(f64::NAN).top, 1.0);
    }

    #[test]
    fn bands_split_the_plot_evenly() {
        // 4 weeks: bands of 160; bars 96 wide, 32 in.
        let b = bands(4);
        let got: Vec<(f64, f64, f64, bool)> = b
            .iter()
            .map(|b| (b.x, b.width, b.center, b.labelled))
            .collect();
        assert_eq!(
            got,
            [
                (92.0, 96.0, 140.0, true),
                (252.0, 96.0, 300.0, true),
                (412.0, 96.0, 460.0, true),
                (572.0, 96.0, 620.0, true),
            ]
        );
        // 3 weeks: bands of 213.33; a bar 128 wide, 42.67 in.
        let b = bands(3);
        assert_eq!((b[1].x, b[1].width, b[1].center), (316.0, 128.0, 380.0));
        // 52 weeks: every 5th label.
        let labelled: Vec<usize> = bands(52)
            .iter()
            .enumerate()
            .filter(|(_, b)| b.labelled)
            .map(|(i, _)| i)
            .collect();
        assert_eq!(labelled, [0, 5, 10, 15, 20, 25, 30, 35, 40, 45, 50]);
        assert!(bands(12).iter().all(|b| b.labelled));
        assert!(bands(0).is_empty());
    }

    #[test]
    fn stacked_bars_sit_on_each_other() {
        // Two weeks, two series: [2, 1] and [0, 3]; the tallest is 3, so
        // the axis tops at 3 and one incident is 73.33 pixels.
        let (axis, segs) = stacked(&[vec![2, 1], vec![0, 3]]);
        assert_eq!(axis.top, 3.0);
        let got: Vec<(usize, usize, f64, f64, f64, f64, u64)> = segs
            .iter()
            .map(|s| (s.column, s.series, s.x, s.y, s.width, s.height, s.value))
            .collect();
        // Bands of 320: bars 192 wide at 124 and 444.
        assert_eq!(
            got,
            [
                (0, 0, 124.0, 93.3, 192.0, 146.7, 2),
                (0, 1, 124.0, 20.0, 192.0, 73.3, 1),
                (1, 1, 444.0, 20.0, 192.0, 220.0, 3),
            ]
        );
    }

    #[test]
    fn lines_break_where_a_week_has_no_value() {
        // Four weeks; the axis tops at 10 (max 9.5: steps of 2 to 10).
        let (axis, lines) = lines(&[
            vec![Some(5.0), Some(9.5), None, Some(2.0)],
            vec![None, None, None, None],
        ]);
        assert_eq!(axis.top, 10.0);
        let pts: Vec<(usize, f64, f64)> = lines[0]
            .points
            .iter()
            .map(|p| (p.column, p.x, p.y))
            .collect();
        // y = 240 − 22 × value.
        assert_eq!(
            pts,
            [(0, 140.0, 130.0), (1, 300.0, 31.0), (3, 620.0, 196.0)]
        );
        assert_eq!(lines[0].runs, ["140,130 300,31"]);
        assert!(lines[1].points.is_empty() && lines[1].runs.is_empty());
    }

    #[test]
    fn markers_are_small_polygons() {
        assert_eq!(
            marker(Shape::Square, 140.0, 130.0),
            "136,126 144,126 144,134 136,134"
        );
        assert_eq!(
            marker(Shape::Diamond, 10.5, 20.0),
            "10.5,15 15.5,20 10.5,25 5.5,20"
        );
        assert_eq!(marker(Shape::TriangleUp, 0.0, 0.0), "0,-5 5,4 -5,4");
        assert_eq!(marker(Shape::TriangleDown, 0.0, 0.0), "-5,-4 5,-4 0,5");
    }

    #[test]
    fn share_bars_scale_to_360_pixels() {
        let bars = share_bars(&[Some(0.5), Some(1.0), None, Some(0.0), Some(1.0 / 3.0)]);
        let got: Vec<(f64, f64, f64, f64)> = bars
            .iter()
            .map(|b| (b.y, b.width, b.text_y, b.text_x))
            .collect();
        assert_eq!(
            got,
            [
                (28.0, 180.0, 44.0, 426.0),
                (68.0, 360.0, 84.0, 606.0),
                (108.0, 0.0, 124.0, 246.0),
                (148.0, 0.0, 164.0, 246.0),
                (188.0, 120.0, 204.0, 366.0),
            ]
        );
        let t = share_ticks();
        let got: Vec<(f64, &str)> = t.iter().map(|t| (t.at, t.label.as_str())).collect();
        assert_eq!(
            got,
            [
                (240.0, "0%"),
                (330.0, "25%"),
                (420.0, "50%"),
                (510.0, "75%"),
                (600.0, "100%")
            ]
        );
        assert_eq!(share_height(4), 230.0);
    }

    #[test]
    fn numbers_drop_a_trailing_zero() {
        assert_eq!(number(92.0), "92");
        assert_eq!(number(93.333), "93.3");
        assert_eq!(number(-4.0), "-4");
    }
}
