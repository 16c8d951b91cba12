"""Typed payload models, one per event type, built from the seed document's schema tables.

Every field of the tables is required; fields the tables call nullable accept null.
Unknown fields are accepted and kept, so the platform can add fields without breaking
anyone. Where the tables and the seed's examples disagree, the examples win: the
candidate's inner ``metadata`` differs between the examples, so it is an open object.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

JsonObject = dict[str, Any]


class OpenModel(BaseModel):
    """A payload object: strict types, extra fields allowed and preserved."""

    model_config = ConfigDict(extra="allow", strict=True, frozen=True)


class CandidateMetadata(OpenModel):
    candidate_name: str
    candidate_email: str
    candidate_id: str
    # {source, job_id} in interview_started, {candidate_metadata_id, resume_url} in
    # report_available: an open, nullable object.
    metadata: JsonObject | None


class InterviewStarted(OpenModel):
    interview_id: str
    posting_id: str
    timestamp: float
    metadata: CandidateMetadata


class InterviewCompleted(OpenModel):
    interview_id: str
    agent_conversation_id: str
    parent_conversation_id: str
    engagement_id: str
    posting_id: str
    timestamp: float
    workflow_completed: bool
    completion_timestamp: float


class Summary(OpenModel):
    interview_id: str
    highlights: list[str]
    lowlights: list[str]
    match_score: int


class ChatTranscriptEntry(OpenModel):
    speaker: str
    text: str
    timestamp: int
    timestamp_str: str


class ScorecardQuestion(OpenModel):
    question_id: str
    question: str
    evaluation_summary: str
    evaluation_criteria: str
    preview_timestamp: int
    evaluation_score: int
    rank: int
    chat_transcript: list[ChatTranscriptEntry]
    score_of_1: str
    score_of_5: str
    score_weight: int
    not_scored: bool


class Scorecard(OpenModel):
    interview_id: str
    match_details: list[str]
    questions: list[ScorecardQuestion]
    tags: list[str]


class Communication(OpenModel):
    interview_id: str
    speech_score: float
    evaluations: list[Any]
    template_id: str | None


class Transcript(OpenModel):
    interview_id: str
    transcript: list[ChatTranscriptEntry]


class WebInterviewInfo(OpenModel):
    summary: Summary
    scorecard: Scorecard
    communication: Communication
    transcript: Transcript
    audio_recording_link: str
    video_recording_link: str


class AgenticData(OpenModel):
    web_interview_info: WebInterviewInfo | None


class StepDetails(OpenModel):
    details: str
    title: str
    description: str


class StateFlags(OpenModel):
    is_completed: bool
    is_incomplete: bool
    is_analyzing_call: bool
    is_in_progress: bool


class WorkflowStep(OpenModel):
    complete: bool
    required: bool
    order: int
    id: str
    started: bool
    details: StepDetails | None
    raw_status: str
    last_updated_timestamp: float
    knocked_out: bool
    completion_percentage: float
    completion_metadata: JsonObject | None
    is_analyzing_call: bool
    total_duration: float | None
    state_flags: StateFlags


class WorkflowStatus(OpenModel):
    interview_id: str
    step_by_step: list[WorkflowStep]
    all_complete: bool
    last_engagement: float
    metadata: JsonObject | None


class WebInterviewMetadata(OpenModel):
    final_score: float
    skill_highlights: list[str]
    audio_recording_link: str
    video_recording_link: str


class StageMetadata(OpenModel):
    resume: JsonObject | None
    web_interview: WebInterviewMetadata | None
    sms: JsonObject | None
    form: JsonObject | None


class InterviewDetails(OpenModel):
    interview_id: str
    candidate_id: str
    interviewed_on: float
    score: float
    name: str
    email: str
    actions: JsonObject | None
    status: str | None
    workflow_status: WorkflowStatus
    metadata: StageMetadata
    candidate_feedback: JsonObject | None
    candidate_next_steps: JsonObject | None
    candidate_interview_url: str


class CompanyInfo(OpenModel):
    company_id: str
    workspace_id: str
    created_at: float
    updated_at: float | None
    created_by: str
    name: str
    image_url: str
    intro_message: str | None
    company_background: str | None
    voice_id: str | None
    knowledge_base: JsonObject | None
    interview_domain: str | None
    interview_domain_id: str | None
    sender_email_id: str | None
    address: str | None
    address_data: JsonObject | None
    timezone: str | None
    base_web_interview_config: JsonObject
    message_settings: JsonObject | None
    sms_agent_config: JsonObject | None
    pdf_generation_config: JsonObject | None
    cheat_detection: JsonObject | None
    allow_white_labeling: bool | None
    disable_all_candidate_communications: bool | None
    interview_completion_confidence_threshold: float
    retention_policy_days: int | None
    video_cheat_detection_enabled: bool | None
    form_agent_enabled: bool | None
    calendar_management_enabled: bool | None
    email_templates_enabled: bool | None
    phone_calls_enabled: bool | None
    profile_picture_processing: bool | None
    chat_agent_enabled: bool | None
    copilot_enabled: bool | None
    design_templates_enabled: bool | None
    interview_templates_enabled: bool | None
    sourcing_configs_enabled: bool | None
    pbac_enabled: bool | None
    email_report_to_candidate_enabled: bool | None


class PostingInfo(OpenModel):
    posting_id: str
    title: str
    name: str
    internal_name: str | None
    description: str
    root_level_configs: JsonObject
    company_id: str
    created_at: float
    last_updated: float
    archived: bool
    deadline: float
    finalized: bool
    test_posting: bool
    agentic_workflow: list[JsonObject]
    step_workflow: JsonObject
    phone_number_id: str | None
    sender_email_id: str
    email_template_group_id: str | None
    design_template_group_id: str | None
    sourcing_config_ids: list[str]
    redirect_url: str | None
    scheduling_url: str | None
    event_slug: str | None
    cal_team_id: str | None
    team_slug: str | None
    mascot_url: str
    mascot_id: str
    days_to_complete: int | None
    ats_metadata: JsonObject | None
    allow_sms_comms: bool
    max_retakes: int | None
    retake_cooldown_days: int | None
    is_template: bool
    email_report_to_candidate: bool


class InterviewDataModel(OpenModel):
    interview_id: str
    details: InterviewDetails
    company_info: CompanyInfo
    posting_info: PostingInfo
    web_interview_info: WebInterviewInfo | None
    resume_interview_info: JsonObject | None
    sms_interview_info: JsonObject | None
    form_interview_info: JsonObject | None


class ReportAvailable(OpenModel):
    interview_id: str
    posting_id: str
    metadata: CandidateMetadata
    report_url: str
    timestamp: float
    interview_type: str
    agentic_data: AgenticData
    interview_data_model: InterviewDataModel


# Operational events: Hookline publishes these itself, into the workspace concerned.


class WebhookDisabled(OpenModel):
    webhook_id: str
    posting_id: str
    url: str
    event_type: str
    reason: str
    disabled_at: float


class DeliveryFailed(OpenModel):
    delivery_id: str
    event_id: str
    webhook_id: str
    event_type: str
    interview_id: str
    posting_id: str
    attempts: int
    last_status_code: int | None
    last_error: str | None
    failed_at: float
