"""The attribute table of DICOM PS3.15 Annex E (Table E.1-1) as data: one row per attribute, its action.

Written for LAI from the definitions of the standard (PS3.15, Annex E, "Attribute Confidentiality
Profiles"); not a copy of any tool's recipe. Each row gives the action of the Basic Application Level
Confidentiality Profile and, where the standard gives one, the action under the options LAI uses:

- ``device``: Retain Device Identity Option
- ``patient``: Retain Patient Characteristics Option
- ``dates``: Retain Longitudinal Temporal Information with Modified Dates Option
- ``descriptors``: Clean Descriptors Option

Actions (PS3.15 E.1.1): ``D`` replace with a dummy value, ``Z`` replace with an empty value (or a dummy),
``X`` remove, ``K`` keep, ``C`` clean (a descriptor: remove what may identify; a date or time: modify it
consistently), ``U`` replace a UID by a consistent one. Combinations such as ``X/Z``, ``Z/D``, ``X/Z/D`` and
``X/Z/U*`` leave the choice to the implementation according to the attribute's type in the IOD.

Curve data (groups 50xx) and overlay data and comments (groups 60xx) are also removed by the profile;
:mod:`lai.archive.deidentify` removes those whole repeating groups.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydicom.datadict import dictionary_VR, tag_for_keyword

OPTION_COLUMNS: tuple[str, ...] = ("device", "patient", "dates", "descriptors")
"""The option columns of the table LAI applies, in the order of :data:`_TABLE`'s rows."""


@dataclass(frozen=True)
class AnnexERow:
    """One attribute of Table E.1-1: its tag and keyword, VR, the Basic Profile action and option actions."""

    tag: int
    keyword: str
    vr: str
    basic: str
    options: tuple[tuple[str, str], ...]

    def action(self, enabled: frozenset[str]) -> str:
        """Return the action under the enabled options (an option's action overrides the basic one)."""
        for option, action in self.options:
            if option in enabled:
                return action
        return self.basic


# keyword  basic  [option=action ...]. Options: device, patient, dates, descriptors.
_TABLE = """
AccessionNumber Z
AcquisitionComments X descriptors=C
AcquisitionContextSequence X
AcquisitionDate X/Z dates=C
AcquisitionDateTime X/Z/D dates=C
AcquisitionDeviceProcessingDescription X/D device=C descriptors=C
AcquisitionProtocolDescription X descriptors=C
AcquisitionTime X/Z dates=C
ActualHumanPerformersSequence X
AdditionalPatientHistory X descriptors=C
AdmissionID X
AdmittingDate X dates=C
AdmittingDiagnosesCodeSequence X descriptors=C
AdmittingDiagnosesDescription X descriptors=C
AdmittingTime X dates=C
AffectedSOPInstanceUID X
Allergies X descriptors=C
Arbitrary X
AuthorObserverSequence X
BranchOfService X
CassetteID X device=K
ClinicalTrialCoordinatingCenterName Z
ClinicalTrialProtocolEthicsCommitteeApprovalNumber X
ClinicalTrialProtocolEthicsCommitteeName D
ClinicalTrialProtocolID D
ClinicalTrialProtocolName Z
ClinicalTrialSeriesDescription X descriptors=C
ClinicalTrialSeriesID X
ClinicalTrialSiteID Z
ClinicalTrialSiteName Z
ClinicalTrialSponsorName D
ClinicalTrialSubjectID D
ClinicalTrialSubjectReadingID D
ClinicalTrialTimePointDescription X descriptors=C
ClinicalTrialTimePointID Z
CommentsOnThePerformedProcedureStep X descriptors=C
ConcatenationUID U
ConfidentialityConstraintOnPatientDataDescription X
ConsultingPhysicianIdentificationSequence X
ConsultingPhysicianName X
ContentCreatorIdentificationCodeSequence X
ContentCreatorName Z
ContentDate Z/D dates=C
ContentSequence X
ContentTime Z/D dates=C
ContextGroupExtensionCreatorUID U
ContrastBolusAgent Z/D descriptors=C
ContributionDescription X descriptors=C
CountryOfResidence X
CreatorVersionUID U
CurrentPatientLocation X
CurveDate X dates=C
CurveTime X dates=C
CustodialOrganizationSequence X
DataSetTrailingPadding X
Date X dates=C
DateOfLastCalibration X dates=C device=K
DateOfLastDetectorCalibration X dates=C device=K
DateOfSecondaryCapture X dates=C
DateTime X dates=C
DerivationDescription X descriptors=C
DetectorID X device=K
DeviceLabel X device=K
DeviceSerialNumber X/Z/D device=K
DeviceUID U device=K
DigitalSignatureDateTime X
DigitalSignaturesSequence X
DigitalSignatureUID X
DimensionOrganizationUID U
DischargeDiagnosisDescription X descriptors=C
DistributionAddress X
DistributionName X
DoseReferenceUID U
EndAcquisitionDateTime X dates=C
EthnicGroup X patient=K
ExpectedCompletionDateTime X dates=C
FailedSOPInstanceUIDList U
FiducialUID U
FillerOrderNumberImagingServiceRequest Z
FrameAcquisitionDateTime X dates=C
FrameComments X descriptors=C
FrameOfReferenceUID U
FrameReferenceDateTime X dates=C
GantryID X device=K
GeneratorID X device=K
HumanPerformerCodeSequence X
HumanPerformerName X
HumanPerformerOrganization X
IconImageSequence X
IdentifyingComments X descriptors=C
ImageComments X descriptors=C
ImagePresentationComments X descriptors=C
ImagingServiceRequestComments X descriptors=C
Impressions X descriptors=C
InstanceCoercionDateTime X dates=C
InstanceCreationDate X dates=C
InstanceCreationTime X dates=C
InstanceCreatorUID U
InstitutionAddress X
InstitutionalDepartmentName X
InstitutionalDepartmentTypeCodeSequence X
InstitutionCodeSequence X/Z/D
InstitutionName X/Z/D
InsurancePlanIdentification X
IntendedRecipientsOfResultsIdentificationSequence X
InterpretationApproverSequence X
InterpretationAuthor X
InterpretationDiagnosisDescription X descriptors=C
InterpretationIDIssuer X
InterpretationRecorder X
InterpretationText X descriptors=C
InterpretationTranscriber X
IrradiationEventUID U
IssueDateOfImagingServiceRequest X dates=C
IssuerOfAccessionNumberSequence X
IssuerOfAdmissionID X
IssuerOfPatientID X
IssuerOfPatientIDQualifiersSequence X
IssuerOfServiceEpisodeID X
IssueTimeOfImagingServiceRequest X dates=C
LargePaletteColorLookupTableUID U
LastMenstrualDate X dates=C
MAC X
ManufacturerModelName X device=K
MediaStorageSOPInstanceUID U
MedicalAlerts X descriptors=C
MedicalRecordLocator X
MilitaryRank X
ModifiedAttributesSequence X
ModifiedImageDescription X
ModifyingDeviceID X device=K
NameOfPhysiciansReadingStudy X
ObservationDateTime X dates=C
Occupation X descriptors=C
OperatorIdentificationSequence X
OperatorsName X/Z/D
OrderCallbackPhoneNumber X
OrderEnteredBy X
OrderEntererLocation X
OrderFillerIdentifierSequence X
OrderPlacerIdentifierSequence X
OriginalAttributesSequence X
OtherPatientIDs X
OtherPatientIDsSequence X
OtherPatientNames X
OverlayDate X dates=C
OverlayTime X dates=C
ParticipantSequence X
PatientAddress X
PatientAge X patient=K
PatientBirthDate Z dates=C
PatientBirthDateInAlternativeCalendar X
PatientBirthName X
PatientBirthTime X dates=C
PatientComments X descriptors=C
PatientDeathDateInAlternativeCalendar X
PatientID Z
PatientInstitutionResidence X
PatientInsurancePlanCodeSequence X
PatientMotherBirthName X
PatientName Z
PatientPrimaryLanguageCodeSequence X
PatientPrimaryLanguageModifierCodeSequence X
PatientReligiousPreference X
PatientSex Z patient=K
PatientSexNeutered X/Z patient=K
PatientSize X patient=K
PatientState X descriptors=C
PatientTelephoneNumbers X
PatientTransportArrangements X
PatientWeight X patient=K
PerformedLocation X
PerformedProcedureStepDescription X descriptors=C
PerformedProcedureStepEndDate X dates=C
PerformedProcedureStepEndDateTime X dates=C
PerformedProcedureStepEndTime X dates=C
PerformedProcedureStepID X
PerformedProcedureStepStartDate X dates=C
PerformedProcedureStepStartDateTime X dates=C
PerformedProcedureStepStartTime X dates=C
PerformedProtocolCodeSequence X descriptors=C
PerformedStationAETitle X
PerformedStationGeographicLocationCodeSequence X
PerformedStationName X
PerformedStationNameCodeSequence X
PerformingPhysicianIdentificationSequence X
PerformingPhysicianName X
PersonAddress X
PersonIdentificationCodeSequence D
PersonName D
PersonTelephoneNumbers X
PhysicianApprovingInterpretation X
PhysiciansOfRecord X
PhysiciansOfRecordIdentificationSequence X
PhysiciansReadingStudyIdentificationSequence X
PlacerOrderNumberImagingServiceRequest Z
PlateID X device=K
PregnancyStatus X patient=K
PreMedication X descriptors=C
ProcedureCodeSequence X descriptors=C
ProcedureStepCancellationDateTime X dates=C
ProtocolName X/D descriptors=C
ReasonForPerformedProcedureCodeSequence X descriptors=C
ReasonForRequestedProcedureCodeSequence X descriptors=C
ReasonForStudy X descriptors=C
ReasonForTheImagingServiceRequest X descriptors=C
ReasonForTheRequestedProcedure X descriptors=C
ReasonForVisit X descriptors=C
ReasonForVisitCodeSequence X descriptors=C
ReferencedDigitalSignatureSequence X
ReferencedFrameOfReferenceUID U
ReferencedGeneralPurposeScheduledProcedureStepTransactionUID U
ReferencedImageSequence X/Z/U*
ReferencedPatientAliasSequence X
ReferencedPatientPhotoSequence X
ReferencedPatientSequence X
ReferencedPerformedProcedureStepSequence X/Z/D
ReferencedSOPInstanceMACSequence X
ReferencedSOPInstanceUID U
ReferencedSOPInstanceUIDInFile U
ReferencedStudySequence X/Z
ReferringPhysicianAddress X
ReferringPhysicianIdentificationSequence X
ReferringPhysicianName Z
ReferringPhysicianTelephoneNumbers X
RegionOfResidence X
RelatedFrameOfReferenceUID U
RequestAttributesSequence X
RequestedContrastAgent X descriptors=C
RequestedProcedureCodeSequence X descriptors=C
RequestedProcedureComments X descriptors=C
RequestedProcedureDescription X/Z descriptors=C
RequestedProcedureID X
RequestedProcedureLocation X
RequestedSOPInstanceUID U
RequestingPhysician X
RequestingService X
RequestingServiceCodeSequence X
ResponsibleOrganization X
ResponsiblePerson X
ResultsComments X descriptors=C
ResultsDistributionListSequence X
ResultsIDIssuer X
ReviewerName X/Z
RouteOfAdmissions X
ScheduledHumanPerformersSequence X
ScheduledPatientInstitutionResidence X
ScheduledPerformingPhysicianIdentificationSequence X
ScheduledPerformingPhysicianName X
ScheduledProcedureStepDescription X descriptors=C
ScheduledProcedureStepEndDate X dates=C
ScheduledProcedureStepEndTime X dates=C
ScheduledProcedureStepID X
ScheduledProcedureStepLocation X
ScheduledProcedureStepModificationDateTime X dates=C
ScheduledProcedureStepStartDate X dates=C
ScheduledProcedureStepStartDateTime X dates=C
ScheduledProcedureStepStartTime X dates=C
ScheduledStationAETitle X
ScheduledStationGeographicLocationCodeSequence X
ScheduledStationName X
ScheduledStationNameCodeSequence X
ScheduledStudyLocation X
ScheduledStudyLocationAETitle X
SeriesDate X dates=C
SeriesDescription X descriptors=C
SeriesInstanceUID U
SeriesTime X dates=C
ServiceEpisodeDescription X descriptors=C
ServiceEpisodeID X
SmokingStatus X patient=K
SoftwareVersions X device=K
SOPInstanceUID U
SourceApplicationEntityTitle X
SourceImageSequence X/Z/U*
SourceSerialNumber X device=K
SpecialNeeds X descriptors=C
StartAcquisitionDateTime X dates=C
StationName X/Z/D device=K
StorageMediaFileSetUID U
StudyArrivalDate X dates=C
StudyArrivalTime X dates=C
StudyComments X descriptors=C
StudyCompletionDate X dates=C
StudyCompletionTime X dates=C
StudyDate Z dates=C
StudyDescription X descriptors=C
StudyID Z
StudyIDIssuer X
StudyInstanceUID U
StudyReadDate X dates=C
StudyReadTime X dates=C
StudyTime Z dates=C
StudyVerifiedDate X dates=C
StudyVerifiedTime X dates=C
SynchronizationFrameOfReferenceUID U
TemplateExtensionCreatorUID U
TemplateExtensionOrganizationUID U
TextComments X descriptors=C
TextString X
TextValue X
Time X dates=C
TimeOfLastCalibration X dates=C device=K
TimeOfLastDetectorCalibration X dates=C device=K
TimezoneOffsetFromUTC X
TopicAuthor X
TopicKeywords X
TopicSubject X
TopicTitle X
TransactionUID U
UID U
VerificationDateTime X dates=C
VerifyingObserverIdentificationCodeSequence Z
VerifyingObserverName D
VerifyingObserverSequence D
VerifyingOrganization X
VisitComments X descriptors=C
"""


def _parse(text: str) -> dict[int, AnnexERow]:
    rows: dict[int, AnnexERow] = {}
    for line in text.strip().splitlines():
        keyword, basic, *rest = line.split()
        tag = tag_for_keyword(keyword)
        if tag is None:
            msg = f"Annex E table: {keyword!r} is not a DICOM keyword pydicom knows"
            raise ValueError(msg)
        options = tuple((name, action) for name, action in (item.split("=") for item in rest))
        if any(name not in OPTION_COLUMNS for name, _ in options):
            msg = f"Annex E table: {keyword!r} names an unknown option in {rest}"
            raise ValueError(msg)
        rows[int(tag)] = AnnexERow(int(tag), keyword, dictionary_VR(tag), basic, options)
    return rows


ANNEX_E: dict[int, AnnexERow] = _parse(_TABLE)
"""Tag -> row of Table E.1-1 for every attribute LAI's table lists."""
