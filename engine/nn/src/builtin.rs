//! Built-in models: the networks PrivQuant (ICCAD 2024) evaluates, with their published shapes.
//! They have no batch-norm or bias terms; the weight counts below are conv + FC weights.
//!
//! * `minionn`: the CIFAR-10 network of MiniONN (Liu et al., CCS 2017, Fig. 13), 61,089,792
//!   MACs ([`minionn`]);
//! * `resnet32`: ResNet-32 for CIFAR (He et al., CVPR 2016, §4.2) with a CIFAR-100 head and
//!   option-A shortcuts, 68,868,352 MACs ([`resnet32`]);
//! * `resnet50`: ResNet-50 v1.5 as in torchvision (`torchvision/models/resnet.py` of
//!   pytorch/vision) at 224×224, 4,089,184,256 MACs ([`resnet50`]);
//! * `resnet50-32px`: the same layers on a 32×32 input (for tests);
//! * `llama7b-attn`: the Q, K, V and O projections of one LLaMA-7B attention block (Touvron et
//!   al., 2023; hidden size 4096) for `n` tokens, 67,108,864·n MACs: each a 4096→4096
//!   projection of an n×4096 activation, written as a 1×1 convolution over a 4096×1×n tensor
//!   so the token dimension is kept. The input of O stands in for the attention output
//!   softmax(QKᵀ)V (same shape; the activation-activation products are not part of the linear
//!   part).

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
///
/// Input 3×32×32. conv1 and conv2 are 3×3 (pad 1) with 64 channels, then a 2×2 average pool
/// (stride 2); conv3 and conv4 the same at 16×16, then another 2×2 pool; conv5 is 3×3 with 64
/// channels, conv6 1×1 with 64 and conv7 1×1 with 16, all stride 1; a ReLU follows every conv;
/// the FC reads the 16×8×8 = 1024 outputs of conv7 (no ReLU after it). 164,544 weights,
/// 173,056 ReLU elements. EzPC's `SCI/networks/main_minionn.cpp` (mpc-msri/EzPC) downsamples
/// in conv5 instead of the second pool: same MACs and weights, larger second pool.
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

/// One basic block of ResNet-32 cut out of the network, for the block ablation of PrivQuant
/// (ICCAD 2024), which uses stage 3 (see [`crate::ablation`]): the second block of stage `stage` (1..=3; input planes×hw×hw with planes 16·2^(stage−1) and hw
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
///
/// A 3×3 stem conv to 16 channels, then 3 stages of 5 basic blocks (two 3×3 convs, ReLU after
/// the first and after the residual add) with 16, 32 and 64 channels at 32×32, 16×16 and 8×8;
/// the first conv of the first block of stages 2 and 3 has stride 2, and its shortcut
/// subsamples by 2 and zero-pads the channels ([`Op::ShortcutA`], no weights). Then an 8×8
/// global average pool and an FC 64→100. 31 convs, 467,632 weights, 303,104 ReLU elements.
/// EzPC's variant (`SCI/networks/main_resnet32_cifar.cpp`) uses 1×1 projection shortcuts
/// instead, so its counts differ.
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
///
/// A 7×7 stride-2 stem conv (pad 3) to 64 channels, ReLU, 3×3 stride-2 max pool (pad 1); then
/// stages of 3, 4, 6 and 3 bottleneck blocks (1×1, 3×3, 1×1 convs; widths 64, 128, 256, 512,
/// output 4× that) whose first block has a 1×1 projection shortcut (`downsample`, with the block's stride) and, in
/// stages 2–4, stride 2 on the 3×3 conv (the "v1.5" placement); a ReLU after the first two
/// convs and after the residual add. Then a global average pool and an FC 2048→1000. At 224:
/// 53 convs, 25,502,912 weights, 49 ReLU layers with 9,608,704 elements.
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

/// LLaMA-7B attention, linear part, for `n` tokens (see the module docs for the layout).
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
    fn minionn_matches_published_counts() {
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
    fn resnet32_matches_published_counts() {
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
    fn resnet50_matches_published_counts() {
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
