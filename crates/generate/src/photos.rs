//! Small but real image files: JPEG photos of menu items and PNG proofs of delivery, as a media
//! store would hand them over. Pixels are drawn procedurally so each file differs.

use crate::world::World;
use crate::{GenerateError, GenerateOptions, Result, io_err};
use std::path::Path;

const W: u32 = 96;
const H: u32 = 72;

pub struct PhotoStats {
    pub files: u64,
    pub bytes: u64,
    pub menu: u64,
    pub delivery: u64,
}

fn pixels(seed: i64, warm: bool) -> Vec<u8> {
    let mut data = Vec::with_capacity((W * H * 3) as usize);
    let s = seed.unsigned_abs();
    let (cx, cy) = ((s % u64::from(W)) as i64, ((s / 7) % u64::from(H)) as i64);
    for y in 0..H as i64 {
        for x in 0..W as i64 {
            let d = ((x - cx).pow(2) + (y - cy).pow(2)) as f64;
            let ring = ((d.sqrt() / 6.0).sin() * 60.0) as i64;
            let (r, g, b) = if warm {
                (180 + ring, 110 + ring / 2 + (x % 16), 60 + (y % 20))
            } else {
                (90 + (x * 2 % 60), 120 + ring, 140 + ring / 2)
            };
            data.extend([
                r.clamp(0, 255) as u8,
                g.clamp(0, 255) as u8,
                b.clamp(0, 255) as u8,
            ]);
        }
    }
    data
}

fn jpeg(seed: i64) -> std::result::Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let encoder = jpeg_encoder::Encoder::new(&mut out, 80);
    encoder
        .encode(
            &pixels(seed, true),
            W as u16,
            H as u16,
            jpeg_encoder::ColorType::Rgb,
        )
        .map_err(|e| e.to_string())?;
    Ok(out)
}

fn png(seed: i64) -> std::result::Result<Vec<u8>, String> {
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, W, H);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().map_err(|e| e.to_string())?;
        writer
            .write_image_data(&pixels(seed, false))
            .map_err(|e| e.to_string())?;
        writer.finish().map_err(|e| e.to_string())?;
    }
    Ok(out)
}

pub fn write_all(
    world: &World,
    delivered_ids: &[i64],
    opts: &GenerateOptions,
    data_dir: &Path,
) -> Result<PhotoStats> {
    let mut stats = PhotoStats {
        files: 0,
        bytes: 0,
        menu: 0,
        delivery: 0,
    };
    let limit = opts.photos as usize;
    for item in world.items.iter().take(limit) {
        let path = data_dir.join("photos/menu").join(&item.photo_file);
        let bytes = jpeg(item.id).map_err(|message| GenerateError::Image {
            path: path.clone(),
            message,
        })?;
        std::fs::write(&path, &bytes).map_err(io_err(&path))?;
        stats.bytes += bytes.len() as u64;
        stats.files += 1;
        stats.menu += 1;
    }
    for id in delivered_ids.iter().take(limit) {
        let path = data_dir
            .join("photos/delivery")
            .join(format!("delivery_{id}.png"));
        let bytes = png(*id).map_err(|message| GenerateError::Image {
            path: path.clone(),
            message,
        })?;
        std::fs::write(&path, &bytes).map_err(io_err(&path))?;
        stats.bytes += bytes.len() as u64;
        stats.files += 1;
        stats.delivery += 1;
    }
    Ok(stats)
}
