// The route table (issue 4 acceptance): routing cases against the baseline
// database in deploy/policy. Every expectation is written from the issue's
// baseline semantics (docs/policy.md), not from the engine's output: the
// decision, the exact set of rule ids that fire, the mask profile and the
// high-risk flag.
#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "beibu/policy/route.h"
#include "test_support.h"

namespace beibu::policy {
namespace {

constexpr Decision kFast = Decision::kFast;
constexpr Decision kMask = Decision::kMask;
constexpr Decision kReview = Decision::kReview;
constexpr Decision kSandbox = Decision::kSandboxOnly;
constexpr Decision kDeny = Decision::kDeny;

const std::vector<std::string> kStd = {"cn-standard-contract"};
const std::vector<std::string> kCert = {"cn-certification"};
const std::vector<std::string> kSec = {"cn-security-assessment"};

// One row: a request built fluently, then what the baseline says about it.
struct Case {
  RouteRequest req;
  Decision want = kFast;
  std::vector<std::string> rules;
  std::optional<std::string> mask;
  bool high_risk = false;

  Case P(int64_t persons) && {
    req.persons = persons;
    return std::move(*this);
  }
  Case Attest(std::vector<std::string> m) && {
    req.attested = std::move(m);
    return std::move(*this);
  }
  Case Purpose(std::string p) && {
    req.purpose = std::move(p);
    return std::move(*this);
  }
  Case Ftz(std::string zone) && {
    req.ftz = std::move(zone);
    return std::move(*this);
  }
  Case Lvl(Level l) && {
    req.declared_level = l;
    return std::move(*this);
  }
  Case Pi() && {
    req.declared_pi = true;
    return std::move(*this);
  }
  Case Spi() && {
    req.declared_spi = true;
    return std::move(*this);
  }
  Case Find(std::vector<std::string> types) && {
    req.finding_types = std::move(types);
    return std::move(*this);
  }
  Case Want(Decision d, std::vector<std::string> ids, std::optional<std::string> profile = {}) && {
    want = d;
    rules = std::move(ids);
    mask = std::move(profile);
    return std::move(*this);
  }
  Case HighRisk() && {
    high_risk = true;
    return std::move(*this);
  }
};

Case R(std::string from, std::string to, std::string category) {
  Case c;
  c.req.from = std::move(from);
  c.req.to = std::move(to);
  c.req.category = std::move(category);
  return c;
}

std::string Describe(const RouteRequest& r) {
  std::string s = r.from + "->" + r.to + " " + r.category + " P=" + std::to_string(r.persons);
  if (r.declared_level) s += " level=" + std::string(LevelName(*r.declared_level));
  if (r.declared_pi) s += " pi";
  if (r.declared_spi) s += " spi";
  for (const auto& f : r.finding_types) s += " finding=" + f;
  for (const auto& m : r.attested) s += " attest=" + m;
  if (!r.purpose.empty()) s += " purpose=" + r.purpose;
  if (!r.ftz.empty()) s += " ftz=" + r.ftz;
  return s;
}

std::vector<Case> Table() {
  std::vector<Case> t;
  auto add = [&](Case c) { t.push_back(std::move(c)); };

  // General data without PI goes FAST from every jurisdiction.
  add(R("CN", "SG", "trade.contract").Want(kFast, {}));
  add(R("BN", "CN", "trade.certificate_of_origin").Want(kFast, {}));
  add(R("KH", "TH", "trade.customs_declaration").Want(kFast, {}));
  add(R("ID", "MY", "logistics.track").Want(kFast, {}));
  add(R("LA", "VN", "genomics.plant").Want(kFast, {}));
  add(R("MY", "SG", "industrial.equipment").Want(kFast, {}));
  add(R("MM", "TH", "tourism.flow").Want(kFast, {}));
  add(R("PH", "ID", "public.statistics").Want(kFast, {}));
  add(R("SG", "CN", "trade.contract").Want(kFast, {}));
  add(R("TH", "LA", "logistics.track").Want(kFast, {}));
  add(R("VN", "CN", "trade.customs_declaration").Want(kFast, {}));
  add(R("CN", "VN", "public.statistics").P(5000000).Want(kFast, {}));  // P alone is not PI

  // CORE -> DENY from every jurisdiction, whatever is attested.
  for (const char* cc : {"CN", "BN", "KH", "ID", "LA", "MY", "MM", "PH", "SG", "TH", "VN"}) {
    add(R(cc, cc == std::string("CN") ? "VN" : "CN", "infrastructure.critical")
            .Want(kDeny, {"G-CORE-001"}));
  }
  add(R("CN", "SG", "infrastructure.critical").Attest(kSec).Want(kDeny, {"G-CORE-001"}));
  add(R("VN", "SG", "infrastructure.critical")
          .Attest({"vn-mps-approval"})
          .Want(kDeny, {"G-CORE-001"}));
  add(R("SG", "MY", "trade.contract").Lvl(Level::kCore).Want(kDeny, {"G-CORE-001"}));
  add(R("SG", "MY", "trade.contract")
          .Lvl(Level::kCore)
          .Pi()
          .Attest({"consent"})
          .Want(kDeny, {"G-CORE-001", "SG-PI-001"}));
  add(R("TH", "MY", "infrastructure.critical").Pi().Want(kDeny, {"G-CORE-001", "TH-PI-001"}));
  // A declared level never lowers the category's.
  add(R("CN", "TH", "infrastructure.critical").Lvl(Level::kGeneral).Want(kDeny, {"G-CORE-001"}));
  add(R("CN", "TH", "infrastructure.critical").Lvl(Level::kImportant).Want(kDeny, {"G-CORE-001"}));

  // IMPORTANT leaving CN / VN needs the assessment / MPS approval.
  add(R("CN", "SG", "geo.survey").Want(kReview, {"CN-IMP-001"}));
  add(R("CN", "SG", "geo.survey").Attest(kSec).Want(kFast, {"CN-IMP-001"}));
  add(R("CN", "SG", "geo.survey").Attest(kStd).Want(kReview, {"CN-IMP-001"}));
  add(R("CN", "MY", "geo.survey").Lvl(Level::kGeneral).Want(kReview, {"CN-IMP-001"}));
  add(R("CN", "MY", "trade.contract").Lvl(Level::kImportant).Want(kReview, {"CN-IMP-001"}));
  add(R("CN", "MY", "trade.contract")
          .Lvl(Level::kImportant)
          .Attest(kSec)
          .Want(kFast, {"CN-IMP-001"}));
  add(R("VN", "CN", "geo.survey").Want(kReview, {"VN-IMP-001"}));
  add(R("VN", "CN", "geo.survey").Attest({"vn-mps-approval"}).Want(kFast, {"VN-IMP-001"}));
  add(R("VN", "CN", "geo.survey").Attest({"vn-impact-assessment"}).Want(kReview, {"VN-IMP-001"}));
  add(R("VN", "TH", "logistics.track").Lvl(Level::kImportant).Want(kReview, {"VN-IMP-001"}));
  for (const char* cc : {"BN", "KH", "ID", "LA", "MY", "MM", "PH", "SG", "TH"}) {
    add(R(cc, "CN", "geo.survey").Want(kFast, {}));  // no IMPORTANT rule outside CN and VN
  }
  add(R("CN", "SG", "customer.contact")
          .Lvl(Level::kImportant)
          .P(10)
          .Want(kReview, {"CN-IMP-001", "CN-PI-001"}));
  add(R("CN", "SG", "customer.contact")
          .Lvl(Level::kImportant)
          .P(10)
          .Attest(kSec)
          .Want(kMask, {"CN-IMP-001", "CN-PI-001", "PROFILE:contact-mask"}, "contact-mask"));
  add(R("VN", "SG", "hr.employee")
          .Lvl(Level::kImportant)
          .Want(kReview, {"VN-IMP-001", "VN-PI-001"}));
  add(R("VN", "SG", "hr.employee")
          .Lvl(Level::kImportant)
          .Attest({"vn-mps-approval"})
          .Want(kReview, {"VN-IMP-001", "VN-PI-001"}));
  add(R("VN", "SG", "hr.employee")
          .Lvl(Level::kImportant)
          .Attest({"vn-mps-approval", "vn-impact-assessment"})
          .Want(kFast, {"VN-IMP-001", "VN-PI-001"}));
  add(R("CN", "SG", "geo.survey")
          .Find({"CN_MOBILE"})
          .P(10)
          .Want(kReview, {"CN-IMP-001", "CN-PI-001"}));

  // Non-sensitive PI leaving CN: the thresholds and their edges.
  add(R("CN", "SG", "hr.employee").P(0).Want(kFast, {"CN-PI-001"}));
  add(R("CN", "SG", "hr.employee").P(99999).Want(kFast, {"CN-PI-001"}));
  add(R("CN", "SG", "hr.employee").P(100000).Want(kReview, {"CN-PI-002"}));
  add(R("CN", "SG", "hr.employee").P(100000).Attest(kStd).Want(kFast, {"CN-PI-002"}));
  add(R("CN", "SG", "hr.employee").P(100000).Attest(kCert).Want(kFast, {"CN-PI-002"}));
  add(R("CN", "SG", "hr.employee").P(100000).Attest(kSec).Want(kReview, {"CN-PI-002"}));
  add(R("CN", "SG", "hr.employee").P(100000).Attest({"consent"}).Want(kReview, {"CN-PI-002"}));
  add(R("CN", "TH", "hr.employee").P(1000000).Want(kReview, {"CN-PI-002"}));
  add(R("CN", "TH", "hr.employee").P(1000000).Attest(kStd).Want(kFast, {"CN-PI-002"}));
  add(R("CN", "TH", "hr.employee").P(1000001).Want(kReview, {"CN-PI-004"}));
  add(R("CN", "TH", "hr.employee").P(1000001).Attest(kSec).Want(kFast, {"CN-PI-004"}));
  add(R("CN", "TH", "hr.employee").P(1000001).Attest(kStd).Want(kReview, {"CN-PI-004"}));
  add(R("CN", "TH", "hr.employee")
          .P(1000001)
          .Attest({"cn-standard-contract", "cn-security-assessment"})
          .Want(kFast, {"CN-PI-004"}));
  add(R("CN", "VN", "hr.employee").P(50000000).Want(kReview, {"CN-PI-004"}));
  // PIPL purpose exemptions (contract necessity, HR management, emergencies).
  add(R("CN", "SG", "hr.employee").P(100000).Purpose("contract-necessity").Want(kFast, {}));
  add(R("CN", "SG", "hr.employee").P(1000000).Purpose("emergency").Want(kFast, {}));
  add(R("CN", "SG", "hr.employee").P(1000001).Purpose("hr-management").Want(kFast, {}));
  add(R("CN", "SG", "hr.employee").P(100000).Purpose("marketing").Want(kReview, {"CN-PI-002"}));
  add(R("CN", "SG", "hr.employee")
          .P(50000)
          .Purpose("contract-necessity")
          .Want(kFast, {"CN-PI-001"}));
  // customer.contact: PI that may go fast is masked.
  add(R("CN", "MY", "customer.contact")
          .P(99999)
          .Want(kMask, {"CN-PI-001", "PROFILE:contact-mask"}, "contact-mask"));
  add(R("CN", "MY", "customer.contact").P(100000).Want(kReview, {"CN-PI-002"}));
  add(R("CN", "MY", "customer.contact")
          .P(100000)
          .Attest(kCert)
          .Want(kMask, {"CN-PI-002", "PROFILE:contact-mask"}, "contact-mask"));
  add(R("CN", "MY", "customer.contact")
          .P(1000001)
          .Attest(kSec)
          .Want(kMask, {"CN-PI-004", "PROFILE:contact-mask"}, "contact-mask"));
  add(R("CN", "MY", "customer.contact")
          .P(1000001)
          .Purpose("contract-necessity")
          .Want(kMask, {"PROFILE:contact-mask"}, "contact-mask"));

  // Sensitive PI leaving CN: 9,999 / 10,000.
  add(R("CN", "SG", "finance.payment").P(0).Want(kReview, {"CN-PI-003"}));
  add(R("CN", "SG", "finance.payment").P(9999).Want(kReview, {"CN-PI-003"}));
  add(R("CN", "SG", "finance.payment")
          .P(9999)
          .Attest(kStd)
          .Want(kMask, {"CN-PI-003", "PROFILE:payment-mask"}, "payment-mask"));
  add(R("CN", "SG", "finance.payment")
          .P(9999)
          .Attest(kCert)
          .Want(kMask, {"CN-PI-003", "PROFILE:payment-mask"}, "payment-mask"));
  add(R("CN", "SG", "finance.payment").P(9999).Attest(kSec).Want(kReview, {"CN-PI-003"}));
  add(R("CN", "SG", "finance.payment").P(10000).Want(kReview, {"CN-PI-005"}));
  add(R("CN", "SG", "finance.payment")
          .P(10000)
          .Attest(kSec)
          .Want(kMask, {"CN-PI-005", "PROFILE:payment-mask"}, "payment-mask"));
  add(R("CN", "SG", "finance.payment").P(10000).Attest(kStd).Want(kReview, {"CN-PI-005"}));
  add(R("CN", "SG", "finance.payment").P(1000001).Want(kReview, {"CN-PI-005"}));
  add(R("CN", "SG", "finance.payment")
          .P(10000)
          .Purpose("emergency")
          .Want(kMask, {"PROFILE:payment-mask"}, "payment-mask"));
  add(R("CN", "ID", "hr.employee").Spi().P(9999).Want(kReview, {"CN-PI-003"}));
  add(R("CN", "ID", "hr.employee").Spi().P(9999).Attest(kStd).Want(kFast, {"CN-PI-003"}));
  add(R("CN", "ID", "hr.employee").Spi().P(10000).Want(kReview, {"CN-PI-005"}));
  add(R("CN", "ID", "hr.employee").Spi().P(10000).Attest(kSec).Want(kFast, {"CN-PI-005"}));
  add(R("CN", "ID", "hr.employee").Spi().P(10000).Purpose("hr-management").Want(kFast, {}));
  add(R("CN", "ID", "trade.contract").Spi().P(5000).Want(kReview, {"CN-PI-003"}));

  // Health: REVIEW at best (the dual channel).
  add(R("CN", "SG", "health.record").P(100).Want(kReview, {"G-HEALTH-001", "CN-PI-003"}));
  add(R("CN", "SG", "health.record")
          .P(100)
          .Attest(kStd)
          .Want(kReview, {"G-HEALTH-001", "CN-PI-003"}));
  add(R("CN", "SG", "health.record")
          .P(20000)
          .Attest(kSec)
          .Want(kReview, {"G-HEALTH-001", "CN-PI-005"}));
  add(R("SG", "TH", "health.record")
          .Attest({"consent"})
          .Want(kReview, {"G-HEALTH-001", "SG-PI-001"}));
  add(R("TH", "SG", "health.record").Want(kReview, {"G-HEALTH-001", "TH-PI-001"}));
  add(R("VN", "SG", "health.record")
          .Attest({"vn-impact-assessment"})
          .Want(kReview, {"G-HEALTH-001", "VN-PI-001"}));
  add(R("MM", "SG", "health.record").Want(kReview, {"G-HEALTH-001", "MM-PI-001"}).HighRisk());
  add(R("LA", "TH", "health.record")
          .Attest({"consent"})
          .Want(kReview, {"G-HEALTH-001", "LA-PI-001"}));

  // Human genetic resources: DENY leaving CN, REVIEW at best elsewhere.
  add(R("CN", "SG", "genomics.human").Want(kDeny, {"CN-HGR-001", "CN-PI-003"}));
  add(R("CN", "SG", "genomics.human").P(50000).Want(kDeny, {"CN-HGR-001", "CN-PI-005"}));
  add(R("CN", "SG", "genomics.human").Attest(kStd).Want(kDeny, {"CN-HGR-001", "CN-PI-003"}));
  add(R("VN", "CN", "genomics.human").Want(kReview, {"G-GENOMICS-001", "VN-PI-001"}));
  add(R("VN", "CN", "genomics.human")
          .Attest({"vn-impact-assessment"})
          .Want(kReview, {"G-GENOMICS-001", "VN-PI-001"}));
  add(R("SG", "CN", "genomics.human")
          .Attest({"consent"})
          .Want(kReview, {"G-GENOMICS-001", "SG-PI-001"}));
  add(R("MM", "CN", "genomics.human").Want(kReview, {"G-GENOMICS-001", "MM-PI-001"}).HighRisk());
  add(R("KH", "CN", "genomics.human").Want(kReview, {"G-GENOMICS-001", "KH-PI-001"}));
  add(R("CN", "SG", "genomics.plant").Want(kFast, {}));

  // Sandbox-only category.
  add(R("CN", "SG", "finance.credit_record")
          .P(10)
          .Want(kSandbox, {"CN-PI-003", "TAXONOMY:finance.credit_record"}));
  add(R("CN", "SG", "finance.credit_record")
          .P(10)
          .Attest(kStd)
          .Want(kSandbox, {"CN-PI-003", "TAXONOMY:finance.credit_record"}));
  add(R("SG", "CN", "finance.credit_record")
          .Attest({"consent"})
          .Want(kSandbox, {"SG-PI-001", "TAXONOMY:finance.credit_record"}));
  add(R("MM", "CN", "finance.credit_record")
          .Want(kSandbox, {"MM-PI-001", "TAXONOMY:finance.credit_record"})
          .HighRisk());

  // Findings raise PI and SPI.
  add(R("CN", "SG", "trade.contract").Find({"CN_MOBILE"}).P(10).Want(kFast, {"CN-PI-001"}));
  add(R("CN", "SG", "trade.contract").Find({"EMAIL"}).P(100000).Want(kReview, {"CN-PI-002"}));
  add(R("CN", "SG", "trade.contract")
          .Find({"CN_MOBILE", "CN_MOBILE", "IP_ADDRESS"})
          .P(1000001)
          .Want(kReview, {"CN-PI-004"}));
  add(R("CN", "SG", "trade.contract").Find({"CN_RESIDENT_ID"}).P(10).Want(kReview, {"CN-PI-003"}));
  add(R("CN", "SG", "trade.contract").Find({"BANK_CARD"}).P(10000).Want(kReview, {"CN-PI-005"}));
  add(R("CN", "SG", "logistics.track")
          .Find({"EMAIL", "PASSPORT"})
          .P(100000)
          .Want(kReview, {"CN-PI-005"}));
  add(R("CN", "SG", "trade.contract").Find({"CN_USCC"}).P(10).Want(kFast, {}));
  add(R("SG", "MY", "trade.contract").Find({"PASSPORT"}).Want(kReview, {"SG-PI-001"}));
  add(R("VN", "MY", "tourism.flow").Find({"IP_ADDRESS"}).Want(kReview, {"VN-PI-001"}));
  // A health finding (ICD-10 code) makes a category without PI sensitive PI:
  // below 10,000 persons CN needs a standard contract or certification
  // (CN-PI-003), from 10,000 a security assessment (CN-PI-005). The same
  // category with a non-sensitive finding at 5,000 persons goes FAST.
  add(R("CN", "SG", "trade.customs_declaration")
          .Find({"HEALTH_ICD10"})
          .P(5000)
          .Want(kReview, {"CN-PI-003"}));
  add(R("CN", "SG", "trade.customs_declaration")
          .Find({"HEALTH_ICD10"})
          .P(5000)
          .Attest(kStd)
          .Want(kFast, {"CN-PI-003"}));
  add(R("CN", "SG", "trade.customs_declaration")
          .Find({"HEALTH_ICD10"})
          .P(5000)
          .Attest(kCert)
          .Want(kFast, {"CN-PI-003"}));
  add(R("CN", "SG", "trade.customs_declaration")
          .Find({"HEALTH_ICD10"})
          .P(5000)
          .Attest({"consent"})
          .Want(kReview, {"CN-PI-003"}));
  add(R("CN", "SG", "trade.customs_declaration")
          .Find({"HEALTH_ICD10"})
          .P(10000)
          .Attest(kStd)
          .Want(kReview, {"CN-PI-005"}));
  add(R("CN", "SG", "trade.customs_declaration")
          .Find({"HEALTH_ICD10"})
          .P(10000)
          .Attest(kSec)
          .Want(kFast, {"CN-PI-005"}));
  add(R("CN", "SG", "trade.customs_declaration")
          .Find({"CN_MOBILE"})
          .P(5000)
          .Want(kFast, {"CN-PI-001"}));
  add(R("VN", "SG", "trade.customs_declaration")
          .Find({"HEALTH_ICD10"})
          .P(5000)
          .Want(kReview, {"VN-PI-001"}));
  add(R("VN", "SG", "trade.customs_declaration")
          .Find({"HEALTH_ICD10"})
          .P(5000)
          .Attest({"vn-impact-assessment"})
          .Want(kFast, {"VN-PI-001"}));
  add(R("TH", "MY", "tourism.flow").Find({"TH_NATIONAL_ID"}).Want(kReview, {"TH-PI-001"}));
  add(R("MY", "SG", "logistics.track").Find({"MY_MYKAD"}).Want(kReview, {"MY-PI-001"}));
  add(R("ID", "SG", "logistics.track")
          .Find({"ID_NIK"})
          .Attest({"asean-mcc"})
          .Want(kFast, {"ID-PI-001"}));
  add(R("MM", "SG", "logistics.track").Find({"VN_CCCD"}).Want(kFast, {"MM-PI-001"}).HighRisk());
  add(R("CN", "SG", "customer.contact")
          .Find({"CN_RESIDENT_ID"})
          .P(10)
          .Want(kReview, {"CN-PI-003"}));
  add(R("SG", "CN", "customer.contact")
          .Find({"SG_NRIC_FIN"})
          .Attest({"consent"})
          .Want(kMask, {"SG-PI-001", "PROFILE:contact-mask"}, "contact-mask"));
  add(R("KH", "TH", "trade.contract").Pi().Want(kReview, {"KH-PI-001"}));
  add(R("KH", "TH", "trade.contract").Pi().Attest({"consent"}).Want(kFast, {"KH-PI-001"}));

  // PI leaving SG, TH, MY, PH, ID, BN: contract, asean-mcc or consent.
  const std::vector<std::string> asean_mechs = {"contract", "asean-mcc", "consent"};
  int i = 0;
  for (const char* cc : {"SG", "TH", "MY", "PH", "ID", "BN"}) {
    std::string rule = std::string(cc) + "-PI-001";
    const std::string& mech = asean_mechs[i++ % 3];
    add(R(cc, "CN", "hr.employee").P(10).Want(kReview, {rule}));
    add(R(cc, "CN", "hr.employee").P(10).Attest({mech}).Want(kFast, {rule}));
    add(R(cc, "VN", "hr.employee").P(10).Attest({"vn-impact-assessment"}).Want(kReview, {rule}));
    add(R(cc, "VN", "customer.contact")
            .P(10)
            .Attest({mech})
            .Want(kMask, {rule, "PROFILE:contact-mask"}, "contact-mask"));
  }
  add(R("SG", "CN", "hr.employee").P(5000000).Attest({"consent"}).Want(kFast, {"SG-PI-001"}));
  add(R("PH", "CN", "finance.payment").Want(kReview, {"PH-PI-001"}));
  add(R("BN", "CN", "finance.payment")
          .Attest({"contract"})
          .Want(kMask, {"BN-PI-001", "PROFILE:payment-mask"}, "payment-mask"));
  add(R("ID", "CN", "hr.employee").Attest(kStd).Want(kReview, {"ID-PI-001"}));

  // KH and LA: consent.
  for (const char* cc : {"KH", "LA"}) {
    std::string rule = std::string(cc) + "-PI-001";
    add(R(cc, "TH", "hr.employee").Want(kReview, {rule}));
    add(R(cc, "TH", "hr.employee").Attest({"consent"}).Want(kFast, {rule}));
    add(R(cc, "TH", "hr.employee").Attest({"contract"}).Want(kReview, {rule}));
    add(R(cc, "TH", "hr.employee").Attest({"asean-mcc"}).Want(kReview, {rule}));
    add(R(cc, "TH", "customer.contact")
            .Attest({"consent"})
            .Want(kMask, {rule, "PROFILE:contact-mask"}, "contact-mask"));
  }

  // VN: impact assessment for PI.
  add(R("VN", "CN", "hr.employee").Want(kReview, {"VN-PI-001"}));
  add(R("VN", "CN", "hr.employee").Attest({"vn-impact-assessment"}).Want(kFast, {"VN-PI-001"}));
  add(R("VN", "CN", "hr.employee").Attest({"vn-mps-approval"}).Want(kReview, {"VN-PI-001"}));
  add(R("VN", "CN", "hr.employee").Attest({"consent"}).Want(kReview, {"VN-PI-001"}));
  add(R("VN", "CN", "customer.contact")
          .Attest({"vn-impact-assessment"})
          .Want(kMask, {"VN-PI-001", "PROFILE:contact-mask"}, "contact-mask"));
  add(R("VN", "CN", "finance.payment")
          .Attest({"vn-impact-assessment"})
          .Want(kMask, {"VN-PI-001", "PROFILE:payment-mask"}, "payment-mask"));

  // MM: allowed, flagged high risk.
  add(R("MM", "TH", "hr.employee").Want(kFast, {"MM-PI-001"}).HighRisk());
  add(R("MM", "TH", "hr.employee").P(5000000).Want(kFast, {"MM-PI-001"}).HighRisk());
  add(R("MM", "TH", "customer.contact")
          .Want(kMask, {"MM-PI-001", "PROFILE:contact-mask"}, "contact-mask")
          .HighRisk());
  add(R("MM", "CN", "finance.payment")
          .Want(kMask, {"MM-PI-001", "PROFILE:payment-mask"}, "payment-mask")
          .HighRisk());
  add(R("MM", "CN", "trade.contract").Want(kFast, {}));  // no PI: no high risk flag

  // Guangxi FTZ: exemption off the negative list, entries on it.
  add(R("CN", "SG", "hr.employee").P(50000).Ftz("gx").Want(kFast, {"CN-FTZ-GX"}));
  add(R("CN", "SG", "hr.employee").P(100000).Ftz("gx").Want(kFast, {"CN-FTZ-GX"}));
  add(R("CN", "SG", "hr.employee").P(5000000).Ftz("gx").Want(kFast, {"CN-FTZ-GX"}));
  add(R("CN", "SG", "hr.employee")
          .P(10000)
          .Find({"BANK_CARD"})
          .Ftz("gx")
          .Want(kFast, {"CN-FTZ-GX"}));
  add(R("CN", "SG", "hr.employee")
          .P(100000)
          .Purpose("hr-management")
          .Ftz("gx")
          .Want(kFast, {"CN-FTZ-GX"}));
  add(R("CN", "SG", "trade.contract").Ftz("gx").Want(kFast, {"CN-FTZ-GX"}));
  add(R("CN", "SG", "finance.payment")
          .P(999999)
          .Ftz("gx")
          .Want(kMask, {"CN-FTZ-GX", "PROFILE:payment-mask"}, "payment-mask"));
  add(R("CN", "SG", "finance.payment")
          .P(1000000)
          .Ftz("gx")
          .Want(kReview, {"CN-PI-005", "GX-NL-004"}));
  add(R("CN", "SG", "finance.payment")
          .P(1000000)
          .Ftz("gx")
          .Attest(kSec)
          .Want(kMask, {"CN-PI-005", "GX-NL-004", "PROFILE:payment-mask"}, "payment-mask"));
  add(R("CN", "SG", "finance.payment")
          .P(1000000)
          .Ftz("gx")
          .Attest(kStd)
          .Want(kReview, {"CN-PI-005", "GX-NL-004"}));
  add(R("CN", "SG", "customer.contact")
          .P(999999)
          .Ftz("gx")
          .Want(kMask, {"CN-FTZ-GX", "PROFILE:contact-mask"}, "contact-mask"));
  add(R("CN", "SG", "customer.contact")
          .P(1000000)
          .Ftz("gx")
          .Want(kReview, {"CN-PI-002", "GX-NL-005"}));
  add(R("CN", "SG", "customer.contact")
          .P(1000000)
          .Ftz("gx")
          .Attest(kStd)
          .Want(kMask, {"CN-PI-002", "GX-NL-005", "PROFILE:contact-mask"}, "contact-mask"));
  add(R("CN", "SG", "customer.contact")
          .P(1000001)
          .Ftz("gx")
          .Attest(kCert)
          .Want(kReview, {"CN-PI-004", "GX-NL-005"}));
  add(R("CN", "SG", "customer.contact")
          .P(1000001)
          .Ftz("gx")
          .Attest({"cn-certification", "cn-security-assessment"})
          .Want(kMask, {"CN-PI-004", "GX-NL-005", "PROFILE:contact-mask"}, "contact-mask"));
  add(R("CN", "SG", "health.record")
          .P(99999)
          .Ftz("gx")
          .Want(kReview, {"G-HEALTH-001", "CN-FTZ-GX"}));
  add(R("CN", "SG", "health.record")
          .P(100000)
          .Ftz("gx")
          .Want(kReview, {"G-HEALTH-001", "CN-PI-005", "GX-NL-001"}));
  add(R("CN", "SG", "health.record")
          .P(100000)
          .Ftz("gx")
          .Attest(kSec)
          .Want(kReview, {"G-HEALTH-001", "CN-PI-005", "GX-NL-001"}));
  add(R("CN", "SG", "genomics.human")
          .Ftz("gx")
          .Want(kDeny, {"CN-HGR-001", "CN-PI-003", "GX-NL-002"}));
  add(R("CN", "SG", "geo.survey").Ftz("gx").Want(kReview, {"CN-IMP-001", "GX-NL-003"}));
  add(R("CN", "SG", "geo.survey").Ftz("gx").Attest(kSec).Want(kFast, {"CN-IMP-001", "GX-NL-003"}));
  add(R("CN", "SG", "infrastructure.critical").Ftz("gx").Want(kDeny, {"G-CORE-001", "CN-FTZ-GX"}));
  add(R("CN", "SG", "trade.contract")
          .Lvl(Level::kImportant)
          .Ftz("gx")
          .Want(kReview, {"CN-IMP-001", "CN-FTZ-GX"}));
  add(R("CN", "SG", "finance.credit_record")
          .P(10)
          .Ftz("gx")
          .Want(kSandbox, {"CN-FTZ-GX", "TAXONOMY:finance.credit_record"}));
  // The zone's list is for data leaving CN only.
  add(R("VN", "SG", "hr.employee").Ftz("gx").Want(kReview, {"VN-PI-001"}));
  add(R("SG", "CN", "finance.payment").P(2000000).Ftz("gx").Want(kReview, {"SG-PI-001"}));
  add(R("MM", "CN", "hr.employee").Ftz("gx").Want(kFast, {"MM-PI-001"}).HighRisk());
  add(R("TH", "CN", "genomics.human").Ftz("gx").Want(kReview, {"G-GENOMICS-001", "TH-PI-001"}));
  return t;
}

std::vector<std::string> Sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

TEST(RouteTableTest, HasAtLeast150Cases) { EXPECT_GE(Table().size(), 150u); }

TEST(RouteTableTest, CoversEveryJurisdictionAsSourceAndEveryLevel) {
  std::vector<Case> table = Table();
  for (std::string_view cc : kJurisdictions) {
    EXPECT_TRUE(std::any_of(table.begin(), table.end(), [&](const Case& c) {
      return c.req.from == cc;
    })) << cc;
  }
  const Database& db = testing::Baseline();
  for (Level level : {Level::kGeneral, Level::kImportant, Level::kCore}) {
    EXPECT_TRUE(std::any_of(table.begin(), table.end(), [&](const Case& c) {
      auto it = db.categories.find(c.req.category);
      return it != db.categories.end() &&
             (it->second.level == level || c.req.declared_level == level);
    })) << LevelName(level);
  }
}

TEST(RouteTableTest, EveryCaseDecidesAsTheBaselineSays) {
  const Database& db = testing::Baseline();
  int n = 0;
  for (const Case& c : Table()) {
    SCOPED_TRACE(Describe(c.req));
    absl::StatusOr<RouteDecision> got = Decide(db, c.req);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(DecisionName(got->decision), DecisionName(c.want)) << got->reason;
    EXPECT_EQ(Sorted(got->rules), Sorted(c.rules)) << got->reason;
    EXPECT_EQ(got->mask_profile, c.mask);
    EXPECT_EQ(got->high_risk, c.high_risk);
    EXPECT_EQ(got->rules.size(), got->trace.size());
    // The reason names every rule behind the decision, and flags high risk.
    for (const std::string& id : c.rules) EXPECT_NE(got->reason.find(id), std::string::npos) << id;
    EXPECT_EQ(got->reason.find("high risk") != std::string::npos, c.high_risk) << got->reason;
    ++n;
  }
  EXPECT_GE(n, 150);
}

}  // namespace
}  // namespace beibu::policy
