//! Compact storage for what grows with a month (the API Gateway shapes, summed from a
//! partition's lines): it should grow by little and in steps that copy nothing.

use std::hash::BuildHasher;

use hashbrown::HashTable;
use hashbrown::hash_table::Entry;

/// Items per chunk of [`Chunks`].
const CHUNK: usize = 4096;

/// A vector in chunks of [`CHUNK`] items: growing never copies what it holds (a vector that
/// doubles holds the old and the new buffer at once) and reserves at most one chunk ahead.
pub(crate) struct Chunks<T> {
    chunks: Vec<Vec<T>>,
    len: u32,
}

impl<T> Default for Chunks<T> {
    fn default() -> Self {
        Chunks { chunks: Vec::new(), len: 0 }
    }
}

impl<T> Chunks<T> {
    /// Appends `item` and returns its place.
    pub(crate) fn push(&mut self, item: T) -> u32 {
        match self.chunks.last_mut() {
            Some(chunk) if chunk.len() < CHUNK => chunk.push(item),
            _ => {
                let mut chunk = Vec::with_capacity(CHUNK);
                chunk.push(item);
                self.chunks.push(chunk);
            }
        }
        self.len += 1;
        self.len - 1
    }

    pub(crate) fn len(&self) -> u32 {
        self.len
    }

    pub(crate) fn get(&self, place: u32) -> &T {
        let place = place as usize;
        &self.chunks[place / CHUNK][place % CHUNK]
    }

    pub(crate) fn get_mut(&mut self, place: u32) -> &mut T {
        let place = place as usize;
        &mut self.chunks[place / CHUNK][place % CHUNK]
    }
}

/// Distinct lists of ids, each kept once and numbered from 0 in order of first appearance.
#[derive(Default)]
pub(crate) struct IdLists {
    /// Every list's ids, one list after another.
    ids: Vec<u32>,
    /// Where each list ends in `ids` (it starts where the previous one ends).
    ends: Vec<u32>,
    /// Each list's hash and number.
    index: HashTable<(u64, u32)>,
    hasher: foldhash::fast::FixedState,
}

impl IdLists {
    /// The number of `list`, which is copied in the first time it is seen.
    pub(crate) fn id(&mut self, list: &[u32]) -> u32 {
        let hash = self.hasher.hash_one(list);
        let (ids, ends) = (&self.ids, &self.ends);
        let same = |&(h, number): &(u64, u32)| h == hash && list_of(ids, ends, number) == list;
        match self.index.entry(hash, same, |&(h, _)| h) {
            Entry::Occupied(entry) => entry.get().1,
            Entry::Vacant(entry) => {
                self.ids.extend_from_slice(list);
                self.ends.push(self.ids.len() as u32);
                let number = self.ends.len() as u32 - 1;
                entry.insert((hash, number));
                number
            }
        }
    }

    pub(crate) fn get(&self, number: u32) -> &[u32] {
        list_of(&self.ids, &self.ends, number)
    }

    /// Each list's rank (indexed by its number) in the order of a `part` of the lists, lists
    /// of equal parts ranked alike: comparing ranks compares the parts.
    pub(crate) fn ranks_by(&self, part: impl Fn(&[u32]) -> &[u32]) -> Vec<u32> {
        let part_of = |number: u32| part(self.get(number));
        let mut numbers: Vec<u32> = (0..self.ends.len() as u32).collect();
        numbers.sort_unstable_by(|&a, &b| part_of(a).cmp(part_of(b)));
        let mut ranks = vec![0; numbers.len()];
        let mut rank = 0;
        for (i, &number) in numbers.iter().enumerate() {
            if i > 0 && part_of(number) != part_of(numbers[i - 1]) {
                rank += 1;
            }
            ranks[number as usize] = rank;
        }
        ranks
    }
}

fn list_of<'a>(ids: &'a [u32], ends: &[u32], number: u32) -> &'a [u32] {
    let number = number as usize;
    let start = if number == 0 { 0 } else { ends[number - 1] as usize };
    &ids[start..ends[number] as usize]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_keep_every_item_in_its_place() {
        let mut chunks = Chunks::default();
        for i in 0..(3 * CHUNK as u64 + 5) {
            assert_eq!(chunks.push(i), i as u32);
        }
        assert_eq!(chunks.len(), 3 * CHUNK as u32 + 5);
        assert_eq!(chunks.chunks.len(), 4, "a new chunk only when the last is full");
        *chunks.get_mut(CHUNK as u32) += 1;
        assert_eq!(*chunks.get(CHUNK as u32 - 1), CHUNK as u64 - 1);
        assert_eq!(*chunks.get(CHUNK as u32), CHUNK as u64 + 1);
        assert_eq!(*chunks.get(3 * CHUNK as u32 + 4), 3 * CHUNK as u64 + 4);
    }

    #[test]
    fn a_list_seen_again_gets_its_number_back() {
        let mut lists = IdLists::default();
        let lists_in: [&[u32]; 5] = [&[1, 2, 3], &[], &[1, 2], &[1, 2, 3, 4], &[2, 1]];
        let numbers: Vec<u32> = lists_in.iter().map(|list| lists.id(list)).collect();
        assert_eq!(numbers, [0, 1, 2, 3, 4]);
        for (list, number) in lists_in.iter().zip(numbers) {
            assert_eq!(lists.id(list), number);
            assert_eq!(lists.get(number), *list);
        }
        // Many lists, so that the table grows and rehashes.
        for i in 0..10_000u32 {
            assert_eq!(lists.id(&[i, i + 1, u32::MAX]), 5 + i);
        }
        assert_eq!(lists.get(5 + 9_999), [9_999, 10_000, u32::MAX]);
    }

    #[test]
    fn ranks_compare_as_the_parts_do() {
        let mut lists = IdLists::default();
        for list in [&[3, 1][..], &[1, 9], &[3, 0], &[1], &[1, 9, 0]] {
            lists.id(list);
        }
        assert_eq!(lists.ranks_by(|ids| ids), [4, 1, 3, 0, 2]);
        // By the first id alone: equal parts share a rank.
        assert_eq!(lists.ranks_by(|ids| &ids[..1]), [1, 0, 1, 0, 0]);
    }
}
