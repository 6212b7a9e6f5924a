//! Seeded random scenarios for `lab-server conform`: short, valid, and mostly
//! quick (a wait longer than the 1 s window is rare), built from the
//! statements real KVM and the model both understand.

/// SplitMix64: small, fast, and the same sequence everywhere for a seed.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// One random scenario, as text.
pub fn scenario(rng: &mut Rng) -> String {
    let mut out = String::from("title random\n");
    let mut vcpus = 1 + rng.below(6) as u32;
    out.push_str(&format!("create {vcpus}\n"));
    let steps = 3 + rng.below(10);
    for _ in 0..steps {
        let target = |rng: &mut Rng, n: u32| -> String {
            match rng.below(3) {
                0 => "*".into(),
                1 => rng.below(u64::from(n)).to_string(),
                _ => {
                    let a = rng.below(u64::from(n)) as u32;
                    let b = a + rng.below(u64::from(n - a)) as u32;
                    format!("{a}-{b}")
                }
            }
        };
        match rng.below(100) {
            0..=44 => {
                let t = target(rng, vcpus);
                let v = match rng.below(8) {
                    0 | 1 => "0".to_string(),
                    2 => "now".to_string(),
                    3 => format!("now+{}ms", rng.below(300)),
                    // (no `now-D`: right after creation a guest TSC is too small to go back)
                    4 => format!("now@{}+{}ms", rng.below(u64::from(vcpus)), rng.below(300)),
                    5 => format!("now@{}", rng.below(u64::from(vcpus))),
                    6 => format!("{}_000_000_000_000", 1 + rng.below(9)),
                    _ => "1".to_string(),
                };
                // Now and then the guest writes its own TSC instead.
                let op = if rng.chance(10) {
                    "guest-write"
                } else {
                    "write"
                };
                out.push_str(&format!("{op} {t} {v}\n"));
            }
            45..=64 => {
                let d = if rng.chance(3) {
                    "1200ms".to_string()
                } else {
                    format!("{}ms", rng.below(30))
                };
                out.push_str(&format!("wait {d}\n"));
            }
            65..=84 => out.push_str(&format!("run {}\n", target(rng, vcpus))),
            85..=89 if vcpus < 8 => {
                vcpus += 1;
                out.push_str("create 1\n");
            }
            90..=94 => {
                let k = rng.below(u64::from(vcpus));
                out.push_str(&format!("set-offset {} offset@{k}\n", target(rng, vcpus)));
            }
            _ => out.push_str("set-clock\n"),
        }
    }
    // Two passes so that every pvclock page shows the final master clock.
    out.push_str("run *\nrun *\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_scenarios_are_valid_and_repeatable() {
        let mut a = Rng::new(7);
        let mut b = Rng::new(7);
        for _ in 0..500 {
            let text = scenario(&mut a);
            assert_eq!(text, scenario(&mut b));
            let s = scenarios::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
            let an = scenarios::check(&s, None).unwrap();
            assert!(an.vcpus <= 8 && an.wait_ns <= 12 * 1_200_000_000, "{text}");
        }
    }
}
