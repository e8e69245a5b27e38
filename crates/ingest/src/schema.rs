//! Schema merging: files of one table arrive over many runs, and each run's inferred schema must
//! stay compatible with what landed before so that readers can union all landings.

use arrow::datatypes::{DataType, Field, Fields, Schema, TimeUnit};
use std::sync::Arc;

/// The narrowest type that holds values of both `a` and `b`. Types with no common
/// representation fall back to Utf8, which the readers fill by coercing primitives to text.
pub fn merge_types(a: &DataType, b: &DataType) -> DataType {
    use DataType::*;
    match (a, b) {
        _ if a == b => a.clone(),
        (Null, o) | (o, Null) => o.clone(),
        (Int64, Float64) | (Float64, Int64) => Float64,
        (Timestamp(u1, tz1), Timestamp(u2, tz2)) if tz1 == tz2 => {
            Timestamp(finer(*u1, *u2), tz1.clone())
        }
        (Date32, Timestamp(u, tz)) | (Timestamp(u, tz), Date32) => Timestamp(*u, tz.clone()),
        (Struct(fa), Struct(fb)) => Struct(merge_fields(fa, fb)),
        (List(ea), List(eb)) => List(Arc::new(Field::new(
            ea.name(),
            merge_types(ea.data_type(), eb.data_type()),
            true,
        ))),
        _ => Utf8,
    }
}

fn finer(a: TimeUnit, b: TimeUnit) -> TimeUnit {
    fn rank(u: TimeUnit) -> u8 {
        match u {
            TimeUnit::Second => 0,
            TimeUnit::Millisecond => 1,
            TimeUnit::Microsecond => 2,
            TimeUnit::Nanosecond => 3,
        }
    }
    if rank(a) >= rank(b) { a } else { b }
}

/// Fields of `a` in their order (types widened by `b`), then the fields only `b` has.
pub fn merge_fields(a: &Fields, b: &Fields) -> Fields {
    let mut out: Vec<Field> = a
        .iter()
        .map(|fa| match b.iter().find(|fb| fb.name() == fa.name()) {
            Some(fb) => Field::new(fa.name(), merge_types(fa.data_type(), fb.data_type()), true),
            None => fa.as_ref().clone().with_nullable(true),
        })
        .collect();
    for fb in b.iter() {
        if !a.iter().any(|fa| fa.name() == fb.name()) {
            out.push(fb.as_ref().clone().with_nullable(true));
        }
    }
    Fields::from(out)
}

/// Every field of both, as in [`merge_fields`].
pub fn merge_schemas(known: &Schema, new: &Schema) -> Schema {
    Schema::new(merge_fields(known.fields(), new.fields()))
}

/// Replaces Null types (also inside structs and lists) by Utf8: a column seen only empty so far
/// must still get a concrete Parquet type, and text is the one every later value can fill.
pub fn replace_nulls(schema: &Schema) -> Schema {
    Schema::new_with_metadata(
        schema
            .fields()
            .iter()
            .map(|f| replace_null_field(f))
            .collect::<Vec<_>>(),
        schema.metadata().clone(),
    )
}

fn replace_null_field(f: &Field) -> Field {
    f.clone().with_data_type(replace_null_type(f.data_type()))
}

fn replace_null_type(t: &DataType) -> DataType {
    match t {
        DataType::Null => DataType::Utf8,
        DataType::Struct(fields) => {
            DataType::Struct(fields.iter().map(|f| replace_null_field(f)).collect())
        }
        DataType::List(f) => DataType::List(Arc::new(replace_null_field(f))),
        DataType::LargeList(f) => DataType::LargeList(Arc::new(replace_null_field(f))),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nulls_become_text_also_nested() {
        let s = Schema::new(vec![
            Field::new("a", DataType::Null, true),
            Field::new(
                "b",
                DataType::List(Arc::new(Field::new(
                    "item",
                    DataType::Struct(vec![Field::new("c", DataType::Null, true)].into()),
                    true,
                ))),
                true,
            ),
        ]);
        let r = replace_nulls(&s);
        assert_eq!(r.field(0).data_type(), &DataType::Utf8);
        let DataType::List(item) = r.field(1).data_type() else {
            panic!("list expected")
        };
        let DataType::Struct(fields) = item.data_type() else {
            panic!("struct expected")
        };
        assert_eq!(fields[0].data_type(), &DataType::Utf8);
    }

    #[test]
    fn merging_widens_and_keeps_order() {
        let a = Schema::new(vec![
            Field::new("x", DataType::Int64, true),
            Field::new("y", DataType::Utf8, true),
        ]);
        let b = Schema::new(vec![
            Field::new("z", DataType::Boolean, true),
            Field::new("x", DataType::Float64, true),
        ]);
        let m = merge_schemas(&a, &b);
        let names: Vec<&str> = m.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(names, ["x", "y", "z"]);
        assert_eq!(m.field(0).data_type(), &DataType::Float64);
        assert_eq!(
            merge_types(&DataType::Int64, &DataType::Boolean),
            DataType::Utf8
        );
    }
}
