//! Scalar functions the engine adds to SQL, for shapes that standard SQL handles badly.

use datafusion::arrow::array::{Array, ArrayRef, AsArray, StringBuilder, StructArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use std::sync::Arc;

/// `event_param(params, 'key')`: the value of `key` in a list of `{key, value}` structs, as text.
///
/// Analytics exports (GA4's `event_params`, Segment's properties) keep parameters as such lists;
/// without lambdas in the default SQL dialect, extracting one would need an UNNEST and a re-join
/// on every event. `value` may be a scalar or a struct of typed slots (`string_value`,
/// `int_value`, …), in which case the first non-null slot wins.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct EventParam {
    signature: Signature,
}

impl EventParam {
    pub fn udf() -> ScalarUDF {
        ScalarUDF::new_from_impl(Self {
            signature: Signature::any(2, Volatility::Immutable),
        })
    }
}

impl ScalarUDFImpl for EventParam {
    fn name(&self) -> &str {
        "event_param"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        match &arg_types[0] {
            DataType::List(f) | DataType::LargeList(f) => match f.data_type() {
                DataType::Struct(fields) if fields.find("key").is_some() => Ok(DataType::Utf8),
                other => plan_err!(
                    "event_param: the first argument must be a list of {{key, value}} structs, got a list of {other}"
                ),
            },
            DataType::Null => Ok(DataType::Utf8),
            other => plan_err!(
                "event_param: the first argument must be a list of {{key, value}} structs, got {other}"
            ),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let key = match &args.args[1] {
            ColumnarValue::Scalar(ScalarValue::Utf8(Some(k)))
            | ColumnarValue::Scalar(ScalarValue::LargeUtf8(Some(k)))
            | ColumnarValue::Scalar(ScalarValue::Utf8View(Some(k))) => k.clone(),
            _ => return exec_err!("event_param: the key must be a text literal"),
        };
        let params = args.args[0].to_array(args.number_rows)?;
        let mut out = StringBuilder::with_capacity(args.number_rows, args.number_rows * 8);
        if params.data_type() == &DataType::Null {
            for _ in 0..args.number_rows {
                out.append_null();
            }
            return Ok(ColumnarValue::Array(Arc::new(out.finish())));
        }
        let list = match params.data_type() {
            DataType::List(_) => params.as_list::<i32>().clone(),
            DataType::LargeList(_) => {
                let cast_to = DataType::List(match params.data_type() {
                    DataType::LargeList(f) => f.clone(),
                    _ => return exec_err!("event_param: unexpected list type"),
                });
                cast(&params, &cast_to)?.as_list::<i32>().clone()
            }
            other => return exec_err!("event_param: unexpected argument type {other}"),
        };
        let entries = list.values().as_struct();
        let keys = cast(column(entries, "key")?, &DataType::Utf8)?;
        let keys = keys.as_string::<i32>();
        let values = text_values(column(entries, "value")?)?;
        let values = values.as_string::<i32>();
        let offsets = list.value_offsets();
        for row in 0..list.len() {
            if list.is_null(row) {
                out.append_null();
                continue;
            }
            let (start, end) = (offsets[row] as usize, offsets[row + 1] as usize);
            let found = (start..end).find(|&i| keys.is_valid(i) && keys.value(i) == key);
            match found {
                Some(i) if values.is_valid(i) => out.append_value(values.value(i)),
                _ => out.append_null(),
            }
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }
}

fn column<'a>(s: &'a StructArray, name: &str) -> Result<&'a ArrayRef> {
    match s.column_by_name(name) {
        Some(c) => Ok(c),
        None => exec_err!("event_param: the list's structs have no `{name}` field"),
    }
}

/// The value slot as text: a scalar is cast; a struct of typed slots takes its first non-null.
fn text_values(value: &ArrayRef) -> Result<ArrayRef> {
    let DataType::Struct(_) = value.data_type() else {
        return Ok(cast(value, &DataType::Utf8)?);
    };
    let slots = value.as_struct();
    let texts: Vec<ArrayRef> = slots
        .columns()
        .iter()
        .filter(|c| !matches!(c.data_type(), DataType::Struct(_) | DataType::List(_)))
        .map(|c| cast(c, &DataType::Utf8))
        .collect::<std::result::Result<_, _>>()?;
    let mut out = StringBuilder::with_capacity(value.len(), value.len() * 8);
    for i in 0..value.len() {
        let v = texts
            .iter()
            .map(|t| t.as_string::<i32>())
            .find(|t| t.is_valid(i))
            .map(|t| t.value(i));
        match v {
            Some(v) if value.is_valid(i) => out.append_value(v),
            _ => out.append_null(),
        }
    }
    Ok(Arc::new(out.finish()))
}
