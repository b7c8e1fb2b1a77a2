//! The mutator: a small seeded random generator and the byte-level mutations the driver
//! stacks on corpus inputs (flips, interesting values, inserts, deletions, duplication,
//! truncation, splicing, dictionary tokens, number swaps, repeated chunks).

/// xorshift64*: deterministic for a seed, so a run can be replayed.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed` (0 is mapped to a fixed non-zero state).
    pub fn new(seed: u64) -> Rng {
        Rng(if seed == 0 {
            0x9E37_79B9_7F4A_7C15
        } else {
            seed
        })
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
}

const INTERESTING: &[u8] = &[
    0, 1, 0x7f, 0x80, 0xff, b'0', b'9', b'"', b'\'', b'\n', b'\\', b'/', b'.', b'-', b':', b'{',
    b'[', b' ', b'a', 0xc3, 0xed,
];

const NUMBERS: &[&str] = &[
    "0",
    "-1",
    "1",
    "255",
    "65536",
    "2147483648",
    "4294967296",
    "-9223372036854775809",
    "18446744073709551616",
    "99999999999999999999999",
    "1e308",
    "0.0000001",
    "NaN",
];

/// Applies one to four stacked mutations to `input`, keeping it at most `max_len` bytes.
/// `dict` holds format tokens; `corpus` supplies splicing partners.
pub fn mutate(
    rng: &mut Rng,
    input: &mut Vec<u8>,
    dict: &[&[u8]],
    corpus: &[Vec<u8>],
    max_len: usize,
) {
    let rounds = 1 + rng.below(4);
    for _ in 0..rounds {
        mutate_once(rng, input, dict, corpus);
    }
    input.truncate(max_len);
}

fn mutate_once(rng: &mut Rng, input: &mut Vec<u8>, dict: &[&[u8]], corpus: &[Vec<u8>]) {
    let len = input.len();
    let pos = |rng: &mut Rng| rng.below(len + 1);
    match rng.below(13) {
        0 if len > 0 => {
            let i = rng.below(len);
            input[i] ^= 1 << rng.below(8);
        }
        1 if len > 0 => {
            let i = rng.below(len);
            input[i] = INTERESTING[rng.below(INTERESTING.len())];
        }
        2 => {
            let at = pos(rng);
            let n = 1 + rng.below(8);
            let bytes: Vec<u8> = (0..n).map(|_| rng.next_u64() as u8).collect();
            input.splice(at..at, bytes);
        }
        3 if len > 0 => {
            let a = rng.below(len);
            let n = 1 + rng.below((len - a).min(64));
            input.drain(a..a + n);
        }
        4 if len > 0 => {
            let a = rng.below(len);
            let n = 1 + rng.below((len - a).min(128));
            let chunk = input[a..a + n].to_vec();
            let at = pos(rng);
            input.splice(at..at, chunk);
        }
        5 if len > 0 => {
            input.truncate(rng.below(len));
        }
        6 if !corpus.is_empty() => {
            let other = &corpus[rng.below(corpus.len())];
            let cut = pos(rng);
            let from = rng.below(other.len() + 1);
            input.truncate(cut);
            input.extend_from_slice(&other[from..]);
        }
        7 | 8 if !dict.is_empty() => {
            let tok = dict[rng.below(dict.len())];
            let at = pos(rng);
            if rng.below(2) == 0 || at == len {
                input.splice(at..at, tok.iter().copied());
            } else {
                let end = (at + tok.len()).min(len);
                input.splice(at..end, tok.iter().copied());
            }
        }
        9 => {
            // Replace a run of ASCII digits (or insert at a random place) with a number.
            let num = NUMBERS[rng.below(NUMBERS.len())].as_bytes();
            let digits: Vec<usize> = (0..len).filter(|&i| input[i].is_ascii_digit()).collect();
            if digits.is_empty() {
                let at = pos(rng);
                input.splice(at..at, num.iter().copied());
            } else {
                let start = digits[rng.below(digits.len())];
                let mut end = start;
                while end < len && input[end].is_ascii_digit() {
                    end += 1;
                }
                input.splice(start..end, num.iter().copied());
            }
        }
        10 if len > 0 => {
            let i = rng.below(len);
            let d = 1 + rng.below(16) as u8;
            input[i] = if rng.below(2) == 0 {
                input[i].wrapping_add(d)
            } else {
                input[i].wrapping_sub(d)
            };
        }
        11 if len > 0 => {
            // Repeat a small chunk many times: finds work quadratic in nesting or length.
            let a = rng.below(len);
            let n = 1 + rng.below((len - a).min(16));
            let chunk = input[a..a + n].to_vec();
            let times = 2 + rng.below(256);
            let at = pos(rng);
            let rep: Vec<u8> = chunk.iter().copied().cycle().take(n * times).collect();
            input.splice(at..at, rep);
        }
        _ => {
            let at = pos(rng);
            input.insert(at, rng.next_u64() as u8);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mutation_is_deterministic_and_bounded() {
        let corpus = vec![b"{\"a\": 1}".to_vec()];
        let run = |seed| {
            let mut rng = Rng::new(seed);
            let mut out = Vec::new();
            for _ in 0..200 {
                let mut x = corpus[0].clone();
                mutate(&mut rng, &mut x, &[b"null"], &corpus, 64);
                assert!(x.len() <= 64);
                out.push(x);
            }
            out
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
    }
}
