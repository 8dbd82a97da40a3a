#include "beibu/pki/signed_by.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "beibu/pki/certificate.h"

namespace beibu::pki {

absl::StatusOr<Identity> VerifySignedBy(std::string_view chain_pem, ByteView message,
                                        ByteView signature, const TrustBundle& trust,
                                        Clock::time_point now) {
  absl::StatusOr<std::vector<Certificate>> chain = Certificate::AllFromPem(chain_pem);
  if (!chain.ok() || chain->empty()) {
    return absl::UnauthenticatedError(absl::StrCat(
        "signer certificate unreadable: ",
        chain.ok() ? std::string("no certificate in it") : std::string(chain.status().message())));
  }
  // Verify reports a revoked leaf as PERMISSION_DENIED; for a signature every
  // failure of the chain means "not authenticated".
  absl::StatusOr<Identity> signer = trust.Verify(*chain, now);
  if (!signer.ok()) {
    return absl::UnauthenticatedError(
        absl::StrCat("signer certificate not trusted: ", signer.status().message()));
  }
  if (trust.IsRevoked(*signer)) {
    return absl::UnauthenticatedError(absl::StrCat("signer ", Describe(*signer), " is revoked"));
  }
  absl::StatusOr<crypto::Sm2PublicKey> key = chain->front().PublicKey();
  if (!key.ok()) {
    return absl::UnauthenticatedError(
        absl::StrCat("signer key unusable: ", key.status().message()));
  }
  if (absl::Status s = key->Verify(message, signature); !s.ok()) {
    return absl::UnauthenticatedError(
        absl::StrCat("signature by ", Describe(*signer), " does not verify: ", s.message()));
  }
  return signer;
}

}  // namespace beibu::pki
