// SPDX-License-Identifier: Apache-2.0
// A contract wallet with one owner key that implements EIP-1271: isValidSignature returns
// the magic value 0x1626ba7e when `signature` is the owner's secp256k1 signature of `hash`.
// It can hold ether and tokens, like a Safe, so reserves held by a contract are proven by
// asking the contract itself, at the snapshot block.
pragma solidity 0.8.28;

contract OwnedWallet {
    address public owner;
    bytes4 internal constant MAGIC = 0x1626ba7e;

    constructor(address owner_) {
        owner = owner_;
    }

    receive() external payable {}

    function setOwner(address newOwner) external {
        require(msg.sender == owner, "owner");
        owner = newOwner;
    }

    function isValidSignature(bytes32 hash, bytes calldata signature) external view returns (bytes4) {
        if (signature.length != 65) return 0xffffffff;
        bytes32 r = bytes32(signature[0:32]);
        bytes32 s = bytes32(signature[32:64]);
        uint8 v = uint8(signature[64]);
        if (v < 27) v += 27;
        address signer = ecrecover(hash, v, r, s);
        if (signer != address(0) && signer == owner) return MAGIC;
        return 0xffffffff;
    }
}
