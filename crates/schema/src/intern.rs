//! Interning text to small ids, for group-by keys over dictionary-encoded columns.

use arrow_array::DictionaryArray;
use arrow_array::cast::AsArray;
use arrow_array::types::Int32Type;

/// A hash map with a fast, non-cryptographic hasher, for group-by keys of our own data.
pub type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// Distinct strings numbered from 1; id 0 stands for "no value" (null or empty).
#[derive(Debug, Default)]
pub struct Interner {
    ids: FastMap<String, u32>,
    values: Vec<String>,
}

impl Interner {
    /// The id of `value`, allocating only the first time a string is seen.
    pub fn id(&mut self, value: Option<&str>) -> u32 {
        let Some(value) = value.filter(|v| !v.is_empty()) else { return 0 };
        if let Some(&id) = self.ids.get(value) {
            return id;
        }
        self.values.push(value.to_owned());
        let id = self.values.len() as u32;
        self.ids.insert(value.to_owned(), id);
        id
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
        (id > 0).then(|| self.values[id as usize - 1].as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
