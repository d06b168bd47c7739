// SPDX-License-Identifier: Apache-2.0
// A minimal m-of-n contract wallet that answers EIP-1271 exactly as a Safe does (Safe v1.4.1:
// CompatibilityFallbackHandler.isValidSignature(bytes32,bytes) + Safe.checkNSignatures), so the
// reserves tests prove Safe wallets without deploying the whole Safe suite:
//   messageHash = keccak256(0x19 0x01 || domainSeparator || keccak256(abi.encode(
//       SAFE_MSG_TYPEHASH, keccak256(abi.encode(dataHash)))))
//   domainSeparator = keccak256(abi.encode(DOMAIN_SEPARATOR_TYPEHASH, chainId, this))
// and `threshold` owner signatures of messageHash, 65 bytes each (r, s, v), their signers in
// strictly increasing order (so one owner cannot sign twice). v 27/28: ECDSA over
// messageHash (eth_signTypedData of SafeMessage); v 31/32: eth_sign of messageHash. Contract
// signatures (v 0) and approved hashes (v 1) of the real Safe are left out. Failures revert
// with Safe's error codes (GS020, GS026), as a Safe does.
pragma solidity 0.8.28;

contract SafeLikeWallet {
    // keccak256("EIP712Domain(uint256 chainId,address verifyingContract)")
    bytes32 internal constant DOMAIN_SEPARATOR_TYPEHASH =
        0x47e79534a245952e8b16893a336b85a3d9ea9fa8c573f3d803afb92a79469218;
    // keccak256("SafeMessage(bytes message)")
    bytes32 internal constant SAFE_MSG_TYPEHASH =
        0x60b3cbf8b4a223d68d641b3b6ddf9a298e7f33710cf3d3a9d1146b5a6150fbca;
    bytes4 internal constant MAGIC = 0x1626ba7e;

    mapping(address => bool) public isOwner;
    uint256 public threshold;

    constructor(address[] memory owners, uint256 threshold_) {
        require(threshold_ > 0 && threshold_ <= owners.length, "GS201");
        for (uint256 i = 0; i < owners.length; i++) {
            require(owners[i] != address(0) && !isOwner[owners[i]], "GS204");
            isOwner[owners[i]] = true;
        }
        threshold = threshold_;
    }

    receive() external payable {}

    function domainSeparator() public view returns (bytes32) {
        return keccak256(abi.encode(DOMAIN_SEPARATOR_TYPEHASH, block.chainid, address(this)));
    }

    function getMessageHash(bytes memory message) public view returns (bytes32) {
        bytes32 safeMessageHash = keccak256(abi.encode(SAFE_MSG_TYPEHASH, keccak256(message)));
        return keccak256(abi.encodePacked(bytes1(0x19), bytes1(0x01), domainSeparator(), safeMessageHash));
    }

    function isValidSignature(bytes32 dataHash, bytes calldata signature) external view returns (bytes4) {
        checkSignatures(getMessageHash(abi.encode(dataHash)), signature);
        return MAGIC;
    }

    function checkSignatures(bytes32 dataHash, bytes calldata signatures) internal view {
        uint256 required = threshold;
        require(signatures.length >= required * 65, "GS020");
        address last = address(0);
        for (uint256 i = 0; i < required; i++) {
            uint256 at = i * 65;
            bytes32 r = bytes32(signatures[at:at + 32]);
            bytes32 s = bytes32(signatures[at + 32:at + 64]);
            uint8 v = uint8(signatures[at + 64]);
            address signer;
            if (v > 30) {
                signer = ecrecover(
                    keccak256(abi.encodePacked("\x19Ethereum Signed Message:\n32", dataHash)), v - 4, r, s
                );
            } else if (v == 27 || v == 28) {
                signer = ecrecover(dataHash, v, r, s);
            } else {
                revert("GS026");
            }
            require(signer > last && isOwner[signer], "GS026");
            last = signer;
        }
    }
}
