//! Built-in models with the exact shapes of networks.md.
//!
//! * `minionn`: MiniONN CIFAR-10, the canonical table (networks.md §1);
//! * `resnet32`: ResNet-32 for CIFAR-100 with option-A shortcuts (§2);
//! * `resnet50`: torchvision ResNet-50 v1.5 at 224×224 (§3);
//! * `resnet50-32px`: the same layers on a 32×32 input (for tests);
//! * `llama7b-attn`: the Q, K, V and O projections of one LLaMA-7B attention block for `n`
//!   tokens (§5), each a 4096→4096 projection of an n×4096 activation, written as a 1×1
//!   convolution over a 4096×1×n tensor so the token dimension is kept. The input of O stands
//!   in for the attention output softmax(QKᵀ)V (same shape; the activation-activation products
//!   are not part of the linear part).

use super::model::{Builder, Model, ModelError, Op, Shape, TensorId};

/// Names accepted by [`by_name`].
pub const NAMES: &[&str] = &[
    "minionn",
    "resnet32",
    "resnet50",
    "resnet50-32px",
    "llama7b-attn",
];

/// A built-in model by name (`tokens` applies to `llama7b-attn`).
pub fn by_name(name: &str, tokens: usize) -> Result<Model, ModelError> {
    match name {
        "minionn" => Ok(minionn()),
        "resnet32" => Ok(resnet32()),
        "resnet50" => Ok(resnet50(224)),
        "resnet50-32px" => Ok(resnet50(32)),
        "llama7b-attn" => {
            if tokens == 0 {
                return Err(ModelError::Model(
                    "llama7b-attn needs at least 1 token".into(),
                ));
            }
            Ok(llama7b_attn(tokens))
        }
        _ => Err(ModelError::Model(format!(
            "unknown model '{name}' (accepted: {}, or a .json file)",
            NAMES.join(", ")
        ))),
    }
}

fn conv(
    b: &mut Builder,
    name: &str,
    x: TensorId,
    cout: usize,
    k: usize,
    stride: usize,
    pad: usize,
) -> TensorId {
    b.push(
        name,
        Op::Conv {
            cout,
            k,
            stride,
            pad,
        },
        &[x],
    )
}

fn relu(b: &mut Builder, name: &str, x: TensorId) -> TensorId {
    b.push(name, Op::Relu, &[x])
}

/// MiniONN (CIFAR-10): 7 conv, 2 avg-pool, 7 ReLU, FC 1024→10.
pub fn minionn() -> Model {
    let mut b = Builder::new("minionn", Shape::new(3, 32, 32));
    let mut x = 0;
    let spec: &[(&str, usize, usize, usize)] = &[
        ("conv1", 64, 3, 1),
        ("conv2", 64, 3, 1),
        ("pool1", 0, 0, 0),
        ("conv3", 64, 3, 1),
        ("conv4", 64, 3, 1),
        ("pool2", 0, 0, 0),
        ("conv5", 64, 3, 1),
        ("conv6", 64, 1, 0),
        ("conv7", 16, 1, 0),
    ];
    for &(name, cout, k, pad) in spec {
        if cout == 0 {
            x = b.push(name, Op::AvgPool { k: 2, stride: 2 }, &[x]);
        } else {
            x = conv(&mut b, name, x, cout, k, 1, pad);
            x = relu(&mut b, &format!("{name}.relu"), x);
        }
    }
    b.push("fc", Op::Fc { dout: 10 }, &[x]);
    b.finish()
}

/// One basic block of ResNet-32 cut out of the network, for the ablation of privquant.md: the
/// second block of stage `stage` (1..=3; input planes×hw×hw with planes 16·2^(stage−1) and hw
/// 32/2^(stage−1), identity shortcut): conv3×3, ReLU, conv3×3, add, ReLU, at W`wbits` with
/// 6-bit activations and the 8-bit residual stream. Its input is the previous block's ReLU
/// output (shared, non-negative, 8 bits, read by the first conv at 6 bits: lower it with
/// `LowerOptions::input_act_bits = Some(6)`).
pub fn resnet32_block(stage: usize, wbits: u32) -> Result<Model, ModelError> {
    if !(1..=3).contains(&stage) {
        return Err(ModelError::Model(format!(
            "ResNet32 has stages 1..=3, not {stage}"
        )));
    }
    let planes = 16 << (stage - 1);
    let hw = 32 >> (stage - 1);
    let mut b = Builder::new(
        &format!("resnet32-s{stage}-block"),
        Shape::new(planes, hw, hw),
    );
    let p = format!("s{stage}b1");
    let c1 = conv(&mut b, &format!("{p}c1"), 0, planes, 3, 1, 1);
    let r1 = relu(&mut b, &format!("{p}c1.relu"), c1);
    let c2 = conv(&mut b, &format!("{p}c2"), r1, planes, 3, 1, 1);
    let sum = b.push(&format!("{p}.add"), Op::Add, &[c2, 0]);
    relu(&mut b, &format!("{p}.relu"), sum);
    let mut m = b.finish();
    for l in m.layers.iter_mut() {
        if l.op.is_linear() {
            l.quant.wbits = wbits;
        }
    }
    Ok(m)
}

/// ResNet-32 (CIFAR-100), option-A shortcuts.
pub fn resnet32() -> Model {
    let mut b = Builder::new("resnet32", Shape::new(3, 32, 32));
    let mut x = conv(&mut b, "stem", 0, 16, 3, 1, 1);
    x = relu(&mut b, "stem.relu", x);
    let mut in_planes = 16;
    for (s, planes) in [16usize, 32, 64].into_iter().enumerate() {
        for blk in 0..5 {
            let stride = if s > 0 && blk == 0 { 2 } else { 1 };
            let p = format!("s{}b{}", s + 1, blk);
            let c1 = conv(&mut b, &format!("{p}c1"), x, planes, 3, stride, 1);
            let r1 = relu(&mut b, &format!("{p}c1.relu"), c1);
            let c2 = conv(&mut b, &format!("{p}c2"), r1, planes, 3, 1, 1);
            let short = if stride != 1 || in_planes != planes {
                b.push(
                    &format!("{p}.shortcut"),
                    Op::ShortcutA {
                        cout: planes,
                        stride,
                    },
                    &[x],
                )
            } else {
                x
            };
            let sum = b.push(&format!("{p}.add"), Op::Add, &[c2, short]);
            x = relu(&mut b, &format!("{p}.relu"), sum);
            in_planes = planes;
        }
    }
    let hw = b.shape(x).h;
    x = b.push("gap", Op::AvgPool { k: hw, stride: 1 }, &[x]);
    b.push("fc", Op::Fc { dout: 100 }, &[x]);
    b.finish()
}

/// ResNet-50 v1.5 on a `res`×`res` input (224 for ImageNet, 32 for the test variant).
pub fn resnet50(res: usize) -> Model {
    let name = if res == 224 {
        "resnet50".to_string()
    } else {
        format!("resnet50-{res}px")
    };
    let mut b = Builder::new(&name, Shape::new(3, res, res));
    let mut x = conv(&mut b, "conv1", 0, 64, 7, 2, 3);
    x = relu(&mut b, "conv1.relu", x);
    x = b.push(
        "maxpool",
        Op::MaxPool {
            k: 3,
            stride: 2,
            pad: 1,
        },
        &[x],
    );
    for (li, (blocks, planes)) in [(3usize, 64usize), (4, 128), (6, 256), (3, 512)]
        .into_iter()
        .enumerate()
    {
        for blk in 0..blocks {
            let stride = if li > 0 && blk == 0 { 2 } else { 1 };
            let p = format!("l{}.{}", li + 1, blk);
            let c1 = conv(&mut b, &format!("{p}.conv1"), x, planes, 1, 1, 0);
            let r1 = relu(&mut b, &format!("{p}.conv1.relu"), c1);
            let c2 = conv(&mut b, &format!("{p}.conv2"), r1, planes, 3, stride, 1);
            let r2 = relu(&mut b, &format!("{p}.conv2.relu"), c2);
            let c3 = conv(&mut b, &format!("{p}.conv3"), r2, planes * 4, 1, 1, 0);
            let short = if blk == 0 {
                conv(
                    &mut b,
                    &format!("{p}.downsample"),
                    x,
                    planes * 4,
                    1,
                    stride,
                    0,
                )
            } else {
                x
            };
            let sum = b.push(&format!("{p}.add"), Op::Add, &[c3, short]);
            x = relu(&mut b, &format!("{p}.relu"), sum);
        }
    }
    let hw = b.shape(x).h;
    x = b.push("avgpool", Op::AvgPool { k: hw, stride: 1 }, &[x]);
    b.push("fc", Op::Fc { dout: 1000 }, &[x]);
    b.finish()
}

/// LLaMA-7B attention, linear part, for `n` tokens.
pub fn llama7b_attn(n: usize) -> Model {
    let mut b = Builder::new(&format!("llama7b-attn-{n}tok"), Shape::new(4096, 1, n));
    let _q = conv(&mut b, "q_proj", 0, 4096, 1, 1, 0);
    let _k = conv(&mut b, "k_proj", 0, 4096, 1, 1, 0);
    let v = conv(&mut b, "v_proj", 0, 4096, 1, 1, 0);
    conv(&mut b, "o_proj", v, 4096, 1, 1, 0);
    b.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(m: &Model, kind: &str) -> usize {
        m.layers.iter().filter(|l| l.op.kind() == kind).count()
    }

    #[test]
    fn minionn_matches_networks_md() {
        let m = minionn();
        m.validate().unwrap();
        assert_eq!(m.macs(), 61_089_792);
        assert_eq!(count(&m, "conv"), 7);
        assert_eq!(count(&m, "fc"), 1);
        assert_eq!(count(&m, "avgpool"), 2);
        assert_eq!(count(&m, "relu"), 7);
        assert_eq!(m.relu_elements(), 173_056);
        let w: usize = (0..m.layers.len())
            .map(|i| m.layers[i].weight_count(m.in_shape(i)))
            .sum();
        assert_eq!(w, 164_544);
    }

    #[test]
    fn resnet32_matches_networks_md() {
        let m = resnet32();
        m.validate().unwrap();
        assert_eq!(m.macs(), 68_868_352);
        assert_eq!(count(&m, "conv"), 31);
        assert_eq!(count(&m, "relu"), 31);
        assert_eq!(m.relu_elements(), 303_104);
        let w: usize = (0..m.layers.len())
            .map(|i| m.layers[i].weight_count(m.in_shape(i)))
            .sum();
        assert_eq!(w, 467_632);
    }

    #[test]
    fn resnet50_matches_networks_md() {
        let m = resnet50(224);
        m.validate().unwrap();
        assert_eq!(m.macs(), 4_089_184_256);
        assert_eq!(count(&m, "conv"), 53);
        assert_eq!(count(&m, "relu"), 49);
        assert_eq!(m.relu_elements(), 9_608_704);
        let w: usize = (0..m.layers.len())
            .map(|i| m.layers[i].weight_count(m.in_shape(i)))
            .sum();
        assert_eq!(w, 25_502_912);
        let small = resnet50(32);
        small.validate().unwrap();
        assert_eq!(
            small.layers.last().map(|l| l.out),
            Some(Shape::new(1000, 1, 1))
        );
    }

    #[test]
    fn llama_shapes() {
        for n in [1, 32, 128] {
            let m = llama7b_attn(n);
            m.validate().unwrap();
            assert_eq!(m.macs(), 67_108_864 * n as u64);
        }
        assert!(by_name("llama7b-attn", 0).is_err());
        assert!(by_name("vgg", 1).is_err());
    }
}
