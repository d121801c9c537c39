//! Interning text to small ids, for group-by keys over dictionary-encoded columns.

use arrow_array::cast::AsArray;
use arrow_array::types::Int32Type;
use arrow_array::{DictionaryArray, Int32Array, StringArray};
use hashbrown::HashTable;
use hashbrown::hash_table::Entry;
use std::hash::BuildHasher;
use std::sync::Arc;

/// A hash map with a fast, non-cryptographic hasher, for group-by keys of our own data.
pub type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// Distinct strings numbered from 1; id 0 stands for "no value" (null or empty).
///
/// The text lives in one buffer, found by hash: a new string costs no allocation of its own,
/// and dropping an interner of a million strings frees three buffers, not two million.
#[derive(Default)]
pub struct Interner {
    text: String,
    /// Where each id's text ends in `text` (it starts where the previous one ends).
    ends: Vec<usize>,
    ids: HashTable<(u64, u32)>,
    hasher: foldhash::fast::FixedState,
}

impl std::fmt::Debug for Interner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Interner").field("strings", &self.ends.len()).finish()
    }
}

impl Interner {
    /// The id of `value`; the first time a string is seen it is copied into the buffer.
    pub fn id(&mut self, value: Option<&str>) -> u32 {
        let Some(value) = value.filter(|v| !v.is_empty()) else { return 0 };
        let hash = self.hasher.hash_one(value);
        let (text, ends) = (&self.text, &self.ends);
        let same = |&(h, id): &(u64, u32)| h == hash && text_of(text, ends, id) == value;
        match self.ids.entry(hash, same, |&(h, _)| h) {
            Entry::Occupied(entry) => entry.get().1,
            Entry::Vacant(entry) => {
                self.text.push_str(value);
                self.ends.push(self.text.len());
                let id = self.ends.len() as u32;
                entry.insert((hash, id));
                id
            }
        }
    }

    /// A dictionary text column's rows as ids (0 for a null key or a null or empty value):
    /// each distinct value is interned once per batch, not once per row.
    pub fn dictionary_ids(&mut self, column: &DictionaryArray<Int32Type>) -> Vec<u32> {
        let value_ids = self.value_ids(column);
        column.keys().iter().map(|k| k.map_or(0, |k| value_ids[k as usize])).collect()
    }

    /// The id of each entry of a dictionary text column's values (0 for a null or empty one).
    pub fn value_ids(&mut self, column: &DictionaryArray<Int32Type>) -> Vec<u32> {
        column.values().as_string::<i32>().iter().map(|v| self.id(v)).collect()
    }

    pub fn get(&self, id: u32) -> Option<&str> {
        (id > 0).then(|| text_of(&self.text, &self.ends, id))
    }

    /// Dictionary text of ids (0 for none), keys in order of first appearance: what collecting
    /// their texts would give, without hashing each row's text. `scratch` is a table of a slot
    /// per id that the caller keeps between calls; it is left as it was found.
    pub fn dictionary_of(
        &self,
        ids: impl IntoIterator<Item = u32>,
        scratch: &mut Vec<i32>,
    ) -> DictionaryArray<Int32Type> {
        /// A slot whose id has no key yet.
        const NO_KEY: i32 = -1;
        if scratch.len() <= self.ends.len() {
            scratch.resize(self.ends.len() + 1, NO_KEY);
        }
        let mut values: Vec<u32> = Vec::new();
        let keys: Int32Array = ids
            .into_iter()
            .map(|id| {
                (id != 0).then(|| {
                    let key = &mut scratch[id as usize];
                    if *key == NO_KEY {
                        *key = values.len() as i32;
                        values.push(id);
                    }
                    *key
                })
            })
            .collect();
        for &id in &values {
            scratch[id as usize] = NO_KEY;
        }
        let values = StringArray::from_iter_values(values.iter().map(|&id| text_of(&self.text, &self.ends, id)));
        DictionaryArray::new(keys, Arc::new(values))
    }

    /// Each id's place in the order of the texts, indexed by id ("no value", id 0, first):
    /// sorting by these numbers sorts by text, each text compared only while ranking.
    pub fn ranks(&self) -> Vec<u32> {
        let mut ids: Vec<u32> = (1..=self.ends.len() as u32).collect();
        ids.sort_unstable_by(|&a, &b| text_of(&self.text, &self.ends, a).cmp(text_of(&self.text, &self.ends, b)));
        let mut ranks = vec![0; self.ends.len() + 1];
        for (rank, id) in ids.into_iter().enumerate() {
            ranks[id as usize] = rank as u32 + 1;
        }
        ranks
    }
}

/// The text of id `id` (at least 1).
fn text_of<'a>(text: &'a str, ends: &[usize], id: u32) -> &'a str {
    let index = id as usize - 1;
    let start = if index == 0 { 0 } else { ends[index - 1] };
    &text[start..ends[index]]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_follow_the_texts_order_with_no_value_first() {
        let mut interner = Interner::default();
        let ids: Vec<u32> = ["m", "b", "z", "a"].into_iter().map(|v| interner.id(Some(v))).collect();
        let ranks = interner.ranks();
        assert_eq!(ranks[0], 0);
        let rank_of: Vec<u32> = ids.iter().map(|&id| ranks[id as usize]).collect();
        assert_eq!(rank_of, [3, 2, 4, 1]);
    }

    #[test]
    fn dictionaries_of_ids_are_what_collecting_their_texts_gives() {
        let mut interner = Interner::default();
        let texts = [Some("b"), None, Some("a"), Some("b"), Some("c"), None, Some("a")];
        let ids: Vec<u32> = texts.iter().map(|t| interner.id(*t)).collect();
        let mut scratch = Vec::new();
        for _ in 0..2 {
            let dictionary = interner.dictionary_of(ids.iter().copied(), &mut scratch);
            assert_eq!(dictionary, texts.iter().copied().collect::<DictionaryArray<Int32Type>>());
            assert!(scratch.iter().all(|&k| k == -1), "the table is left as it was found");
        }
    }

    #[test]
    fn ids_are_stable_and_zero_is_none() {
        let mut interner = Interner::default();
        let a = interner.id(Some("a"));
        assert_eq!(interner.id(Some("a")), a);
        assert_eq!(interner.id(None), 0);
        assert_eq!(interner.id(Some("")), 0);
        assert_eq!(interner.get(a), Some("a"));
        assert_eq!(interner.get(0), None);
    }

    #[test]
    fn many_strings_keep_their_ids_and_text() {
        let mut interner = Interner::default();
        let values: Vec<String> = (0..10_000).map(|i| format!("value-{i}")).collect();
        let ids: Vec<u32> = values.iter().map(|v| interner.id(Some(v))).collect();
        assert_eq!(ids, (1..=10_000).collect::<Vec<u32>>());
        for (value, id) in values.iter().zip(&ids) {
            assert_eq!(interner.id(Some(value)), *id);
            assert_eq!(interner.get(*id), Some(value.as_str()));
        }
        // A prefix of an interned string is a string of its own.
        assert_eq!(interner.id(Some("value-1")), 2);
        assert_eq!(interner.id(Some("value-")), 10_001);
    }
}
