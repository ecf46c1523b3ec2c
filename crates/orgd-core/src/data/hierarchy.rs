//! Generated hierarchy properties (orgvue-dialect §4.2): depth, leaf, orphan, children, descendants.
//! Needs each item's parent (a position), not the items.

/// Generated values of one item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Generated {
    /// Root = 1.
    pub depth: u32,
    /// No children.
    pub is_leaf: bool,
    /// Parent key names no item, or the item is in a parent cycle.
    pub is_orphan: bool,
    /// Direct children.
    pub children: u32,
    /// All descendants.
    pub descendants: u32,
}

/// An item's parent, as the hierarchy links tell it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parent {
    /// No parent value, or the item's own key: a root.
    Root,
    /// A parent value that names no item: an orphan.
    Missing,
    /// The item at this position.
    Item(usize),
}

/// Compute the generated values of items given by their parents (positions in the same list).
pub fn compute(parents: &[Parent]) -> Vec<Generated> {
    let n = parents.len();
    let mut out = vec![Generated::default(); n];
    let mut parent: Vec<Option<usize>> = vec![None; n];
    for (i, p) in parents.iter().enumerate() {
        match p {
            Parent::Item(j) if *j != i => parent[i] = Some(*j),
            Parent::Missing => out[i].is_orphan = true,
            _ => {}
        }
    }
    // Break cycles: walk up from each unresolved node; nodes on a cycle become orphan roots.
    const UNKNOWN: u32 = 0;
    let mut state = vec![UNKNOWN; n]; // 0 = unknown, 1 = on stack, 2 = done
    for start in 0..n {
        if state[start] != UNKNOWN {
            continue;
        }
        let mut path: Vec<usize> = Vec::new();
        let mut cur = Some(start);
        while let Some(c) = cur {
            match state[c] {
                1 => {
                    let pos = path.iter().position(|&x| x == c).expect("on the current path");
                    for &x in &path[pos..] as &[usize] {
                        parent[x] = None;
                        out[x].is_orphan = true;
                    }
                    break;
                }
                2 => break,
                _ => {
                    state[c] = 1;
                    path.push(c);
                    cur = parent[c];
                }
            }
        }
        for &x in &path {
            state[x] = 2;
        }
    }
    // Depths, top-down with memo.
    let mut depth = vec![0u32; n];
    for i in 0..n {
        if depth[i] != 0 {
            continue;
        }
        let mut chain = vec![i];
        let mut cur = parent[i];
        while let Some(c) = cur {
            if depth[c] != 0 {
                break;
            }
            chain.push(c);
            cur = parent[c];
        }
        let mut d = cur.map(|c| depth[c]).unwrap_or(0);
        for &x in chain.iter().rev() {
            d += 1;
            depth[x] = d;
        }
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(depth[i]));
    let mut desc = vec![0u32; n];
    let mut kids = vec![0u32; n];
    for &i in &order {
        if let Some(p) = parent[i] {
            kids[p] += 1;
            desc[p] += 1 + desc[i];
        }
    }
    for i in 0..n {
        out[i].depth = depth[i];
        out[i].children = kids[i];
        out[i].descendants = desc[i];
        out[i].is_leaf = kids[i] == 0;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depths_counts_orphans_and_cycles() {
        use Parent::*;
        let g = compute(&[Root, Item(0), Item(1), Item(0), Missing, Item(6), Item(5), Item(7)]);
        assert_eq!(g[0], Generated { depth: 1, is_leaf: false, is_orphan: false, children: 2, descendants: 3 });
        assert_eq!(g[2], Generated { depth: 3, is_leaf: true, is_orphan: false, children: 0, descendants: 0 });
        assert!(g[4].is_orphan && g[4].depth == 1);
        assert!(g[5].is_orphan && g[6].is_orphan && g[5].depth == 1 && g[6].depth == 1);
        assert!(!g[7].is_orphan && g[7].depth == 1, "a self-parent is a root");
    }
}
