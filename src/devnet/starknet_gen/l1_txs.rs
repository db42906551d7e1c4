//! The L1 transactions of a generated Starknet batch: the program output
//! header, and the memory pages or blobs that publish the DA.

use super::*;

impl StarknetGenerator {
    /// The transactions that publish `batch`: memory pages or blobs, as its format posts.
    pub(super) fn l1_txs(
        &mut self,
        batch: &Publication<'_>,
    ) -> Result<Vec<PlannedTx>, DevnetError> {
        if batch.format.is_pages() {
            self.pages_txs(batch)
        } else {
            self.blob_txs(batch)
        }
    }

    fn pages_txs(&mut self, batch: &Publication<'_>) -> Result<Vec<PlannedTx>, DevnetError> {
        let output = batch.header.v0_11(!batch.format.four_word_header());
        let n = batch.n;
        let z = felt_to_u256(&self.rng.felt());
        let alpha = felt_to_u256(&self.rng.felt());
        // Cairo memory address of the program output (page 0), then the DA pages after it.
        let output_start = 1_000_000 + n * 100_000;
        let pages_of = |felts: &[Felt]| -> Vec<MemoryPage> {
            let mut start = output_start + output.len() as u64;
            felts
                .chunks(self.config.page_size)
                .map(|chunk| {
                    let page = MemoryPage {
                        start_addr: U256::from(start),
                        values: chunk.iter().map(felt_to_u256).collect(),
                        z,
                        alpha,
                        prime: stark_prime(),
                    };
                    start += chunk.len() as u64;
                    page
                })
                .collect()
        };
        let honest_pages = pages_of(batch.honest);
        let posted_pages = pages_of(batch.posted);
        let values: Vec<&[U256]> = honest_pages.iter().map(|p| p.values.as_slice()).collect();
        // The proof binds the true pages; under DataNotBound other pages are registered.
        let data_hash = onchain_data_hash(output.len(), &values);
        let update = PlannedTx {
            to: self.config.core,
            calldata: encode_update_state(&output, data_hash, batch.honest.len()),
            blobs: vec![],
            label: format!("starknet batch {n} updateState"),
        };
        let Some(sharp) = self.config.sharp.clone() else {
            let mut txs: Vec<PlannedTx> = posted_pages
                .iter()
                .enumerate()
                .map(|(i, page)| PlannedTx {
                    to: self.config.registry,
                    calldata: encode_page(page),
                    blobs: vec![],
                    label: format!("starknet batch {n} registerContinuousMemoryPage {}", i + 1),
                })
                .collect();
            txs.push(update);
            return Ok(txs);
        };

        // As SHARP publishes a job: the program output is the main page, the
        // verifier lists the pages' hashes under the update's fact.
        let registry = sharp.registry_for(n).ok_or_else(|| {
            DevnetError::Config(format!("batch {n}: no registry in the SHARP plan"))
        })?;
        let main = MemoryPage {
            start_addr: U256::from(output_start),
            values: output.iter().map(felt_to_u256).collect(),
            z,
            alpha,
            prime: stark_prime(),
        };
        let fact = sharp::state_transition_fact(&main.values, &values);
        let mut own: Vec<&MemoryPage> = posted_pages.iter().collect();
        own.push(&main);
        let mut txs = Vec::new();
        // Other SHARP customers' jobs land next to each of Starknet's pages.
        let mut decoys_near = |page: &MemoryPage| {
            let job = sharp
                .decoys
                .then(|| self.decoy_job(n, registry.address, page.start_addr, sharp.verifier));
            job.into_iter().flatten()
        };
        if registry.batch_calls {
            for page in &own {
                txs.extend(decoys_near(page));
            }
            txs.push(PlannedTx {
                to: registry.address,
                calldata: sharp::encode_page_batch(
                    &own.iter().map(|p| (*p).clone()).collect::<Vec<_>>(),
                ),
                blobs: vec![],
                label: format!("starknet batch {n} registerContinuousPageBatch"),
            });
        } else {
            for (i, page) in own.iter().enumerate() {
                txs.extend(decoys_near(page));
                txs.push(PlannedTx {
                    to: registry.address,
                    calldata: encode_page(page),
                    blobs: vec![],
                    label: format!("starknet batch {n} registerContinuousMemoryPage {}", i + 1),
                });
            }
        }
        if sharp.decoys {
            txs.extend(self.decoy_job(n, registry.address, main.start_addr, sharp.verifier));
        }
        let mut hashes = vec![sharp::memory_hash(&main.values)];
        hashes.extend(honest_pages.iter().map(|p| sharp::memory_hash(&p.values)));
        txs.push(PlannedTx {
            to: sharp.verifier,
            calldata: contracts::encode_register_task_fact(fact, hashes),
            blobs: vec![],
            label: format!("starknet batch {n} SHARP registerTaskFact"),
        });
        txs.push(update);
        Ok(txs)
    }

    /// Another SHARP customer's job: one page on `registry` at `start` (the
    /// address of one of Starknet's pages, so only hashes tell them apart) and
    /// its own fact on the verifier. Numbered, never random: see [`SharpPlan::decoys`].
    fn decoy_job(
        &mut self,
        n: u64,
        registry: Address,
        start: U256,
        verifier: Address,
    ) -> [PlannedTx; 2] {
        self.decoys += 1;
        let k = self.decoys;
        let page = MemoryPage {
            start_addr: start,
            values: (0..5).map(|i| U256::from(k * 100 + i)).collect(),
            z: U256::from(3u8),
            alpha: U256::from(5u8),
            prime: stark_prime(),
        };
        let fact = alloy_primitives::keccak256(k.to_be_bytes());
        [
            PlannedTx {
                to: registry,
                calldata: encode_page(&page),
                blobs: vec![],
                label: format!("starknet batch {n} {DECOY_MARK} {k} registerContinuousMemoryPage"),
            },
            PlannedTx {
                to: verifier,
                calldata: contracts::encode_register_task_fact(
                    fact,
                    vec![sharp::memory_hash(&page.values)],
                ),
                blobs: vec![],
                label: format!("starknet batch {n} {DECOY_MARK} {k} registerTaskFact"),
            },
        ]
    }

    fn blob_txs(&mut self, batch: &Publication<'_>) -> Result<Vec<PlannedTx>, DevnetError> {
        let blobs = felts_to_blobs(batch.posted)?;
        let (n, format, header, honest) = (batch.n, batch.format, &batch.header, batch.honest);
        if format == StarknetFormat::V0_13_1Blob && blobs.len() != 1 {
            return Err(DevnetError::Config(format!(
                "batch {n}: v0.13.1 posts one blob, the DA needs {} ({} felts, {FIELD_ELEMENTS_PER_BLOB} per blob)",
                blobs.len(),
                batch.posted.len()
            )));
        }
        let commitments = blobs
            .iter()
            .map(|b| kzg::commitment(b))
            .collect::<Result<Vec<_>, _>>()?;
        // z is over the true DA, as the OS computes it; under DataNotBound the
        // blobs differ and are still opened honestly at that z, so L1 accepts them.
        let z = if format == StarknetFormat::V0_13_1Blob {
            z_v0_13_1(honest, &commitments[0])
        } else {
            z_v0_13_2(honest, &commitments)
        };
        let mut proofs = Vec::with_capacity(blobs.len());
        let mut ys = Vec::with_capacity(blobs.len());
        for blob in &blobs {
            let (proof, y) = open(blob, &z.to_bytes_be())?;
            proofs.push(proof);
            ys.push(y);
        }
        let (calldata, label) = if format == StarknetFormat::V0_13_1Blob {
            let output = header.v0_13_1(&commitments[0], &z, &ys[0]);
            (
                contracts::encode_update_state_kzg_v0_13_1(&output, &proofs[0]),
                "updateStateKzgDA(uint256[],bytes)",
            )
        } else {
            let output = header.v0_13_2(&commitments, &z, &ys);
            (
                encode_update_state_kzg(&output, &proofs),
                "updateStateKzgDA(uint256[],bytes[])",
            )
        };
        Ok(vec![PlannedTx {
            to: self.config.core,
            calldata,
            blobs,
            label: format!("starknet batch {n} {label}"),
        }])
    }
}

/// What one batch publishes on L1: its program-output header and its DA,
/// honest (what the OS hashes) and as posted (which a fault may change).
pub(super) struct Publication<'a> {
    pub(super) n: u64,
    pub(super) format: StarknetFormat,
    pub(super) header: Header,
    pub(super) honest: &'a [Felt],
    pub(super) posted: &'a [Felt],
}

/// The program-output header fields of one batch.
pub(super) struct Header {
    pub(super) prev_root: Felt,
    pub(super) new_root: Felt,
    pub(super) prev_block_number: Felt,
    pub(super) block_number: Felt,
    pub(super) prev_block_hash: Felt,
    pub(super) block_hash: Felt,
    pub(super) config_hash: Felt,
    pub(super) os_program_hash: Felt,
}

/// Empty message segments (L2→L1, L1→L2).
const NO_MESSAGES: [Felt; 2] = [Felt::ZERO, Felt::ZERO];

impl Header {
    /// The v0.10 – v0.13.0 header: 4 words, or 5 with the block hash (v0.11.1+).
    pub(super) fn v0_11(&self, with_block_hash: bool) -> Vec<Felt> {
        let mut out = vec![self.prev_root, self.new_root, self.block_number];
        if with_block_hash {
            out.push(self.block_hash);
        }
        out.push(self.config_hash);
        out.extend(NO_MESSAGES);
        out
    }

    pub(super) fn v0_13_1(&self, commitment: &[u8; 48], z: &Felt, y: &[u8; 32]) -> Vec<Felt> {
        let (c_low, c_high) = split_commitment(commitment);
        let (y_low, y_high) = split_y(y);
        let mut out = vec![
            self.prev_root,
            self.new_root,
            self.block_number,
            self.block_hash,
            self.config_hash,
            Felt::ONE,
            c_low,
            c_high,
            *z,
            y_low,
            y_high,
        ];
        out.extend(NO_MESSAGES);
        out
    }

    pub(super) fn v0_13_2(&self, commitments: &[[u8; 48]], z: &Felt, ys: &[[u8; 32]]) -> Vec<Felt> {
        let mut out = vec![
            self.prev_root,
            self.new_root,
            self.prev_block_number,
            self.block_number,
            self.prev_block_hash,
            self.block_hash,
            self.os_program_hash,
            self.config_hash,
            Felt::ONE,  // use_kzg_da
            Felt::ZERO, // full_output
            *z,
            Felt::from(commitments.len()),
        ];
        for c in commitments {
            let (low, high) = split_commitment(c);
            out.extend([low, high]);
        }
        for y in ys {
            let (low, high) = split_y(y);
            out.extend([low, high]);
        }
        out.extend(NO_MESSAGES);
        out
    }
}

/// Opens a blob at `z`: `(proof, y)`.
fn open(blob: &[u8], z: &[u8; 32]) -> Result<([u8; 48], [u8; 32]), DevnetError> {
    let kzg_blob =
        c_kzg::Blob::from_bytes(blob).map_err(|e| kzg::BlobError::Kzg(format!("{e:?}")))?;
    let (proof, y) = kzg::kzg_settings()
        .compute_kzg_proof(&kzg_blob, &c_kzg::Bytes32::new(*z))
        .map_err(|e| kzg::BlobError::Kzg(format!("{e:?}")))?;
    let mut y_bytes = [0u8; 32];
    y_bytes.copy_from_slice(y.as_slice());
    Ok((proof.to_bytes().into_inner(), y_bytes))
}
